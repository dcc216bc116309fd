/// One policy file's text and the path it is reported under (`policies/tiers.yaml`).
///
/// The loader reads text, not paths, so the same code validates a working tree, a file from
/// `git show REF:policies/tiers.yaml`, or a test fixture.
public struct PolicyFile: Sendable, Hashable {
    public var path: String
    public var text: String

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}
