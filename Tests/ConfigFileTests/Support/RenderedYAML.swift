import PropertyBased

/// Valid YAML of random shape, written in every style the scan must follow: block
/// mappings and sequences (indented by 1 to 3 columns, indentless, compact `- - x`, `? `
/// keys), flow collections (with `key: value` pairs in sequences, over several lines, with
/// comments), quoted, plain and block scalars holding brackets and quotes (over several
/// lines too), comments, tags, anchors and aliases, `\n`, `\r\n` or `\r` line breaks — all
/// decided by a list of random numbers.
struct RenderedYAML {
    private var choices: [Int]
    private var next = 0
    private var anchors = 0
    private var budget = 400

    static func document(_ choices: [Int]) -> String {
        var renderer = RenderedYAML(choices: choices)
        let start = ["", "--- ", "---\n", "# [ {\n"][renderer.pick(4)]
        let text = start + renderer.blockNode(indent: 0, depth: 0).trimmingPrefix(" ") + "\n"
        let lineBreak = ["\n", "\n", "\r\n", "\r"][renderer.pick(4)]
        return lineBreak == "\n" ? text : text.replacingOccurrences(of: "\n", with: lineBreak)
    }

    static let choices = Gen.int(in: 0...999).array(of: 0...400)

    private init(choices: [Int]) {
        self.choices = choices
    }

    private mutating func pick(_ count: Int) -> Int {
        defer { next += 1 }
        return next < choices.count ? choices[next] % count : 0
    }

    private mutating func word() -> String {
        ["a", "b", "key", "x y", "1", "-2", "t:u", "v-w"][pick(8)]
    }

    private mutating func scalar(inFlow: Bool) -> String {
        switch pick(inFlow ? 6 : 8) {
        case 0: return "'q [ { '' ] } #'"
        case 1: return "\"d [ \\\" { ]\""
        case 2 where anchors > 0: return "*a\(pick(anchors))"
        case 5: return "\"m [\n  ]] {\n ' \""
        case 6: return "p [ { ' ] }"
        case 7: return "e ] ] # ["
        default: return word()
        }
    }

    private mutating func properties() -> String {
        switch pick(8) {
        case 0:
            anchors += 1
            return "&a\(anchors - 1) "
        case 1: return "!t "
        default: return ""
        }
    }

    private var exhausted: Bool { next >= choices.count || budget <= 0 }

    /// A value after `key:` or `- ` at `indent` (the column children must pass): starts with
    /// a space on the same line, or a line break.
    private mutating func blockNode(indent: Int, depth: Int) -> String {
        budget -= 1
        let kind = exhausted ? 0 : pick(10)
        switch kind {
        case 0, 1:
            return " " + scalar(inFlow: false) + (pick(4) == 0 ? " # [ {" : "")
        case 2:
            let step = 1 + pick(3)
            let lines = (0..<(1 + pick(3))).map { _ in String(repeating: " ", count: indent + step + pick(2)) + "[ { ' \" # ] }" }
            let header = ["|", ">-", "|+", "|\(step)", ">\(step)-"][pick(5)]
            let blank = pick(3) == 0 ? "\n" + String(repeating: " ", count: pick(indent + step + 1)) : ""
            return " \(header)\(blank)\n" + lines.joined(separator: "\n")
        case 9 where indent > 0:
            // A plain scalar over more-indented lines.
            let lines = (0..<(1 + pick(3))).map { _ in String(repeating: " ", count: indent + 1 + pick(3)) + "more [ ' { - x" }
            return " plain [\n" + lines.joined(separator: "\n")
        case 3, 4:
            return " " + properties() + flowNode(depth: depth)
        case 5, 6, 7:
            let step = 1 + pick(3)
            return " " + properties() + "\n" + blockMapping(indent: indent + step, depth: depth + 1)
        default:
            let step = pick(3)  // 0: indentless (valid as a mapping's value)
            return " " + properties() + "\n" + blockSequence(indent: indent + step, depth: depth + 1)
        }
    }

    private mutating func blockMapping(indent: Int, depth: Int) -> String {
        (0..<(1 + pick(3))).map { index in
            let margin = String(repeating: " ", count: indent)
            if pick(6) == 0 {
                // A complex key: `? key` then `: value` at the same column.
                return margin + "?" + blockNode(indent: indent, depth: depth) + "\n" + margin + ":" + blockNode(indent: indent, depth: depth)
            }
            return margin + "k\(index):" + blockNode(indent: indent, depth: depth)
        }.joined(separator: "\n")
    }

    private mutating func blockSequence(indent: Int, depth: Int) -> String {
        (0..<(1 + pick(3))).map { _ in
            let prefix = String(repeating: " ", count: indent) + "-"
            switch exhausted ? 0 : pick(4) {
            case 0:
                return prefix + blockNode(indent: indent + 1, depth: depth)
            case 1:
                // compact nested sequence: `- - x`
                let inner = blockSequence(indent: indent + 2, depth: depth + 1)
                return prefix + " " + inner.dropFirst(indent + 2)
            case 2:
                // compact mapping: `- k: v` then more keys at the same column
                let inner = blockMapping(indent: indent + 2, depth: depth + 1)
                return prefix + " " + inner.dropFirst(indent + 2)
            default:
                return prefix + " " + flowNode(depth: depth)
            }
        }.joined(separator: "\n")
    }

    private mutating func flowNode(depth: Int) -> String {
        budget -= 1
        switch exhausted ? 0 : pick(6) {
        case 0, 1:
            return scalar(inFlow: true)
        case 2, 3:
            let items = (0..<pick(4)).map { _ in
                pick(4) == 0 ? flowNode(depth: depth + 1) + ": " + flowNode(depth: depth + 1) : properties() + flowNode(depth: depth + 1)
            }
            return "[" + items.joined(separator: [", ", ",\n ", ", # [ {\n  ", ","][pick(4)]) + "]"
        default:
            let items = (0..<pick(4)).map { index in "f\(index): " + properties() + flowNode(depth: depth + 1) }
            return "{" + items.joined(separator: ", ") + "}"
        }
    }
}
