import ConfigFile
import Foundation
import UsageModel
import Yams

/// Reads a YAML mapping through Yams' node API so every error can point at the file,
/// line, column and key it concerns. Unknown keys are errors.
struct YAMLMapping {
    let file: String
    let path: String
    let node: Node
    let mapping: Node.Mapping

    static func load(file: String) throws -> YAMLMapping {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigFileError(file: file, line: 0, column: 0, key: "-", problem: "cannot read the file")
        }
        return try parse(text, file: file)
    }

    static func parse(_ text: String, file: String) throws -> YAMLMapping {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigFileError(file: file, line: Self.line(of: error), column: 0, key: "-",
                                  problem: "not valid YAML: \(error)".replacingOccurrences(of: "\n", with: " "))
        }
        guard let node, let mapping = node.mapping else {
            throw ConfigFileError(file: file, line: 1, column: 1, key: "-", problem: "expected a mapping of keys at the top level")
        }
        return YAMLMapping(file: file, path: "", node: node, mapping: mapping)
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default: return 0
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ problem: String, at node: Node? = nil) -> ConfigFileError {
        let mark = node?.mark ?? mapping.first { $0.key.string == key }?.key.mark ?? self.node.mark
        return ConfigFileError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
                               key: keyPath(key), problem: problem)
    }

    /// Fails on the first key not in `known`.
    func rejectUnknownKeys(_ known: Set<String>) throws {
        for (k, _) in mapping {
            guard let name = k.string else { throw error("?", "keys must be strings", at: k) }
            if !known.contains(name) {
                throw error(name, "unknown key (expected one of: \(known.sorted().joined(separator: ", ")))", at: k)
            }
        }
    }

    func value(_ key: String) -> Node? { mapping[Node(key)] }

    func string(_ key: String) throws -> String {
        guard let v = value(key) else { throw error(key, "required key is missing", at: node) }
        guard let s = v.scalar?.string, !s.isEmpty else { throw error(key, "expected a non-empty string", at: v) }
        return s
    }

    func optionalString(_ key: String) throws -> String? {
        guard value(key) != nil else { return nil }
        return try string(key)
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let v = value(key) else { throw error(key, "required key is missing", at: node) }
        guard let i = v.int else { throw error(key, "expected an integer, found '\(v.string ?? "?")'", at: v) }
        guard range.contains(i) else { throw error(key, "\(i) is out of range \(range.lowerBound)...\(range.upperBound)", at: v) }
        return i
    }

    func stringList(_ key: String) throws -> [String] {
        guard let v = value(key) else { throw error(key, "required key is missing", at: node) }
        guard let seq = v.sequence else { throw error(key, "expected a list", at: v) }
        return try seq.map { item in
            guard let s = item.string, item.scalar != nil, !s.isEmpty else { throw error(key, "expected a list of strings", at: item) }
            return s
        }
    }

    func mapping(_ key: String) throws -> YAMLMapping {
        guard let v = value(key) else { throw error(key, "required key is missing", at: node) }
        guard let m = v.mapping else { throw error(key, "expected a mapping", at: v) }
        return YAMLMapping(file: file, path: keyPath(key), node: v, mapping: m)
    }

    func mappings(_ key: String) throws -> [YAMLMapping] {
        guard let v = value(key) else { throw error(key, "required key is missing", at: node) }
        guard let seq = v.sequence else { throw error(key, "expected a list", at: v) }
        return try seq.enumerated().map { i, item in
            guard let m = item.mapping else { throw error(key, "item \(i + 1) must be a mapping", at: item) }
            return YAMLMapping(file: file, path: "\(keyPath(key))[\(i)]", node: item, mapping: m)
        }
    }
}
