/// How much a configuration file may hold, checked before it is parsed.
///
/// Yams builds its nodes recursively, so a document nested a few thousand levels deep
/// overflows the stack of whatever reads it (a traffic manager reloading on SIGHUP
/// included). Configuration files nest a handful of levels and weigh kilobytes; these
/// bounds are far above that and far below what breaks.
package struct YAMLLimits: Sendable, Hashable {
    /// The largest text, in UTF-8 bytes.
    package var maximumBytes: Int
    /// The most collections (mappings, lists) nested in one another, counting those an
    /// alias repeats.
    package var maximumDepth: Int

    package init(maximumBytes: Int = 1 << 20, maximumDepth: Int = 64) {
        self.maximumBytes = maximumBytes
        self.maximumDepth = maximumDepth
    }

    /// 1 MiB, 64 levels.
    package static let standard = YAMLLimits()
}
