import PropertyBased

/// Documents built from YAML's structure characters, the scalars readers trip on, line
/// breaks and indentation of every kind, and (rarely) a nest deeper than the limit: what
/// the readers must take or refuse without crashing.
enum GeneratedYAML {
    static let fragments: [String] = [
        "[", "]", "{", "}", ", ", ",", ": ", ":", "- ", "-", "? ", "?",
        "\n", "\n", "\n  ", "\n    ", "\n      ", "\n- ", "\n  - ", "\r\n", "\r", "\u{85}", "\u{2028}",
        " ", "  ", "\t", "'", "''", "\"", "\\", "\\\"", "#", " # comment", "&a ", "*a", "&b ", "*b", "&a", "*",
        "!tag ", "!!str ", "!<tag:x> ", "!", "|", "|2", ">-", "|+\n", "%YAML 1.1\n", "---\n", "--- ", "...\n", "@", "`",
        "key", "name", "vServers", "tasks", "tiers", "clouds", "defaults", "services", "spillover", "limit",
        "value", "a b", "é", "\u{0}", "\u{FEFF}", "null", "~", "true", "on",
        "0", "7", "-7", "+3", "010", "0x1F", "0o17", "0b101", "1_000", "1.5", ".inf", ".nan", "1e400",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "99999999999999999999",
        "1:0:0:0:0:0:0:0:0:0:0:0", "59:59", "0x7fffffffffffffff", "1e18", "120%", "250ms",
    ]

    /// A part: a fragment, or with 2 % chance a nest `value` levels deep (at most 1,500 by
    /// indentation, about 1 MiB).
    static func part(_ selector: Int, _ value: Int) -> String {
        if selector >= 196 {
            let kinds = HostileYAML.allCases
            let kind = kinds[(selector + value) % kinds.count]
            return kind.document(depth: kind.isIndented ? value % 1_500 : value)
        }
        return fragments[(selector * 7 + value) % fragments.count]
    }

    /// The parts planted at character `offset` of `base` (clamped).
    static func document(base: String, offset: Int, parts: [(Int, Int)]) -> String {
        let inserted = parts.map { part($0.0, $0.1) }.joined()
        let index = base.index(base.startIndex, offsetBy: min(offset, base.count))
        return String(base[..<index]) + inserted + String(base[index...])
    }

    static let parts = zip(Gen.int(in: 0...199), Gen.int(in: 0...6_000)).array(of: 0...40)
    static let shallowParts = zip(Gen.int(in: 0...195), Gen.int(in: 0...6_000)).array(of: 0...80)
}
