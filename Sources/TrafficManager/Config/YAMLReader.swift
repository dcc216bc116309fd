import TMSCore
import Yams

/// Reads one YAML mapping of a configuration file through Yams' node API, so that every
/// error points at the file, line, column and key it concerns. Keys not declared with
/// `expectOnly` are errors.
struct YAMLReader {
    let file: String
    /// The dotted path of this mapping (`""` at the top level).
    let path: String
    let node: Node
    let mapping: Node.Mapping

    /// Parses `text` and returns a reader for its top-level mapping.
    static func parse(_ text: String, file: String) throws(ConfigError) -> YAMLReader {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let (line, column) = position(of: error)
            let message = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw ConfigError(file: file, line: line, column: column, key: "-", problem: "not valid YAML: \(message)")
        } catch {
            throw ConfigError(file: file, line: 0, column: 0, key: "-", problem: "not valid YAML: \(error)")
        }
        guard let composed, let mapping = composed.mapping else {
            throw ConfigError(file: file, line: 1, column: 1, key: "-", problem: "expected a mapping of keys at the top level")
        }
        return YAMLReader(file: file, path: "", node: composed, mapping: mapping)
    }

    private static func position(of error: YamlError) -> (Int, Int) {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return (mark.line, mark.column)
        default:
            return (0, 0)
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// An error about `key`, positioned at `node`, else at the key itself, else at this mapping.
    func error(_ key: String, _ problem: String, at node: Node? = nil) -> ConfigError {
        let mark = node?.mark ?? keyNode(key)?.mark ?? self.node.mark
        return ConfigError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
                           key: keyPath(key), problem: problem)
    }

    private func keyNode(_ key: String) -> Node? {
        mapping.first { $0.key.string == key }?.key
    }

    /// Fails on the first key that is not in `known` (unknown keys are errors).
    func expectOnly(_ known: Set<String>) throws(ConfigError) {
        for (key, _) in mapping {
            guard let name = key.scalar?.string else { throw error("?", "keys must be strings", at: key) }
            if !known.contains(name) {
                throw error(name, "unknown key (expected one of: \(known.sorted().joined(separator: ", ")))", at: key)
            }
        }
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func value(_ key: String) -> Node? { mapping[key] }

    private func required(_ key: String) throws(ConfigError) -> Node {
        guard let node = value(key) else { throw error(key, "required key is missing") }
        return node
    }

    func string(_ key: String) throws(ConfigError) -> String {
        let node = try required(key)
        guard let text = node.scalar?.string, !text.isEmpty else { throw error(key, "expected a non-empty string", at: node) }
        return text
    }

    func optionalString(_ key: String) throws(ConfigError) -> String? {
        has(key) ? try string(key) : nil
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let node = try required(key)
        guard let text = node.scalar?.string, let number = Int(text) else {
            throw error(key, "expected an integer, found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        guard range.contains(number) else {
            throw error(key, "\(number) is out of range \(range.lowerBound)...\(range.upperBound)", at: node)
        }
        return number
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        has(key) ? try int(key, in: range) : nil
    }

    /// A duration: `250ms`, `2s`, `1.5s`, `1m`, or a bare number of seconds.
    func duration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration {
        let node = try required(key)
        guard let text = node.scalar?.string, let duration = DurationText.parse(text) else {
            throw error(key, "expected a duration such as 250ms, 2s or 1m, found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        guard range.contains(duration) else {
            throw error(key, "\(DurationText.format(duration)) is out of range \(DurationText.format(range.lowerBound))...\(DurationText.format(range.upperBound))", at: node)
        }
        return duration
    }

    func optionalDuration(_ key: String, in range: ClosedRange<Duration>) throws(ConfigError) -> Duration? {
        has(key) ? try duration(key, in: range) : nil
    }

    /// A percentage: `80`, `12.5`, `80%` (0 to 100, at most two decimals).
    func percentage(_ key: String) throws(ConfigError) -> Percentage {
        let node = try required(key)
        guard let text = node.scalar?.string, let value = Percentage(parsing: text) else {
            throw error(key, "expected a percentage from 0 to 100 with at most 2 decimals, found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        return value
    }

    /// A threshold: an absolute number (`7`) or a percentage (`75%`).
    func threshold(_ key: String) throws(ConfigError) -> Threshold {
        let node = try required(key)
        guard let text = node.scalar?.string else { throw error(key, "expected a number or a percentage", at: node) }
        if text.hasSuffix("%") {
            guard let value = Percentage(parsing: text) else {
                throw error(key, "expected a percentage from 0% to 100% with at most 2 decimals, found '\(text)'", at: node)
            }
            return .percent(value)
        }
        guard let number = Int(text), number >= 0 else {
            throw error(key, "expected a number >= 0 or a percentage such as 80%, found '\(text)'", at: node)
        }
        return .absolute(number)
    }

    func bool(_ key: String) throws(ConfigError) -> Bool {
        let node = try required(key)
        switch node.scalar?.string {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, "expected true or false", at: node)
        }
    }

    /// One of `choices` (the raw values of `T`).
    func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(ConfigError) -> T where T.RawValue == String {
        let node = try required(key)
        guard let text = node.scalar?.string, let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(key, "expected one of: \(names), found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        return value
    }

    func submapping(_ key: String) throws(ConfigError) -> YAMLReader {
        let node = try required(key)
        guard let mapping = node.mapping else { throw error(key, "expected a mapping", at: node) }
        return YAMLReader(file: file, path: keyPath(key), node: node, mapping: mapping)
    }

    /// The mappings of a list (an absent key is an empty list).
    func list(_ key: String) throws(ConfigError) -> [YAMLReader] {
        guard let node = value(key) else { return [] }
        if node.scalar?.string == "" || node.scalar?.string == "null" { return [] }
        guard let sequence = node.sequence else { throw error(key, "expected a list", at: node) }
        var readers: [YAMLReader] = []
        for (index, item) in sequence.enumerated() {
            guard let mapping = item.mapping else { throw error(key, "item \(index + 1) must be a mapping", at: item) }
            readers.append(YAMLReader(file: file, path: "\(keyPath(key))[\(index)]", node: item, mapping: mapping))
        }
        return readers
    }
}
