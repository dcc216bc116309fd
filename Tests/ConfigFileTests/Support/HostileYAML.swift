/// Documents nested deeper than any reader allows, in each way YAML can nest. (Nesting by
/// indentation costs a column per level: 5,000 such levels are far over 1 MiB.)
enum HostileYAML: String, CaseIterable, CustomStringConvertible {
    case blockMappings, blockSequences, compactSequences, indentlessSequences, flowSequences, flowMappings,
         mixedFlow, aliasChain

    var description: String { rawValue }

    /// Whether each level is one more column of indentation.
    var isIndented: Bool {
        switch self {
        case .blockMappings, .blockSequences, .indentlessSequences: true
        default: false
        }
    }

    func document(depth: Int) -> String {
        switch self {
        case .blockMappings:
            // a:\n  a:\n    a: ...
            return (0..<depth).map { String(repeating: " ", count: $0) + "a:" }.joined(separator: "\n") + " 1\n"
        case .blockSequences:
            return (0..<depth).map { String(repeating: " ", count: $0) + "-" }.joined(separator: "\n") + " 1\n"
        case .compactSequences:
            return String(repeating: "- ", count: depth) + "1\n"
        case .indentlessSequences:
            // A sequence as a mapping's value at the mapping's own column, then a mapping in it.
            return (0..<depth).map { String(repeating: " ", count: 2 * $0) + "- a:" }.joined(separator: "\n") + " 1\n"
        case .flowSequences:
            return String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        case .flowMappings:
            return String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth) + "\n"
        case .mixedFlow:
            return "key: " + String(repeating: "[{a: ", count: depth / 2) + "1" + String(repeating: "}]", count: depth / 2) + "\n"
        case .aliasChain:
            // Each line one level deeper than the last through the alias; no line deeper than 3.
            var lines = ["a0: &a0 [x]"]
            for level in 1..<max(depth, 1) { lines.append("a\(level): &a\(level) [*a\(level - 1)]") }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
