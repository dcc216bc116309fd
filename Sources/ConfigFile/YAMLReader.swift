import Yams

/// Reads one YAML mapping of a configuration file (the traffic manager's, an image
/// manifest) through Yams' node API, so that every error names the file, line, column and
/// key it concerns. Keys not declared with `expectOnly` are errors. The first problem found
/// is thrown; the policy reader, which reports every problem, has its own accessors over
/// the same `YAMLText.compose`.
package struct YAMLReader {
    package let file: String
    /// The dotted path of this mapping (`""` at the top level, `vServers[0].spillover`).
    package let path: String
    package let node: Node
    package let mapping: Node.Mapping

    private init(file: String, path: String, node: Node, mapping: Node.Mapping) {
        self.file = file
        self.path = path
        self.node = node
        self.mapping = mapping
    }

    /// Reads `file` (refusing one larger than `limits` allow) and parses it. Blocking file I/O.
    package static func load(file: String, limits: YAMLLimits = .standard) throws(ConfigFileError) -> YAMLReader {
        try parse(YAMLText.read(file: file, limits: limits), file: file, limits: limits)
    }

    /// Parses `text` (`file` names it in errors) and returns a reader for its top-level mapping.
    package static func parse(_ text: String, file: String, limits: YAMLLimits = .standard) throws(ConfigFileError) -> YAMLReader {
        let composed = try YAMLText.compose(text, file: file, limits: limits)
        guard let composed, let mapping = composed.mapping else {
            throw ConfigFileError(file: file, line: 1, column: 1, key: "-", problem: "expected a mapping of keys at the top level")
        }
        return YAMLReader(file: file, path: "", node: composed, mapping: mapping)
    }

    package func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// An error about `key`, positioned at `node`, else at the key itself, else at this mapping.
    package func error(_ key: String, _ problem: String, at node: Node? = nil) -> ConfigFileError {
        let mark = node?.mark ?? keyNode(key)?.mark ?? self.node.mark
        return ConfigFileError(file: file, line: mark?.line ?? 0, column: mark?.column ?? 0,
                               key: keyPath(key), problem: problem)
    }

    private func keyNode(_ key: String) -> Node? {
        mapping.first { $0.key.string == key }?.key
    }

    /// Fails on the first key that is not in `known` (unknown keys are errors).
    package func expectOnly(_ known: Set<String>) throws(ConfigFileError) {
        for (key, _) in mapping {
            guard let name = key.scalar?.string else { throw error("?", "keys must be strings", at: key) }
            if !known.contains(name) {
                throw error(name, "unknown key (expected one of: \(known.sorted().joined(separator: ", ")))", at: key)
            }
        }
    }

    package func has(_ key: String) -> Bool { value(key) != nil }

    package func value(_ key: String) -> Node? { mapping[key] }

    /// The value of `key`; its absence is an error.
    package func required(_ key: String) throws(ConfigFileError) -> Node {
        guard let node = value(key) else { throw error(key, "required key is missing") }
        return node
    }

    /// The mapping under `key` (required).
    package func submapping(_ key: String) throws(ConfigFileError) -> YAMLReader {
        let node = try required(key)
        guard let mapping = node.mapping else { throw error(key, "expected a mapping", at: node) }
        return YAMLReader(file: file, path: keyPath(key), node: node, mapping: mapping)
    }

    /// The mappings of the list under `key` (required).
    package func mappings(_ key: String) throws(ConfigFileError) -> [YAMLReader] {
        try mappings(key, of: required(key))
    }

    /// The mappings of the list under `key`; an absent key, or one without a value, is an
    /// empty list.
    package func optionalMappings(_ key: String) throws(ConfigFileError) -> [YAMLReader] {
        guard let node = value(key) else { return [] }
        if node.scalar?.string == "" || node.scalar?.string == "null" { return [] }
        return try mappings(key, of: node)
    }

    private func mappings(_ key: String, of node: Node) throws(ConfigFileError) -> [YAMLReader] {
        guard let sequence = node.sequence else { throw error(key, "expected a list", at: node) }
        var readers: [YAMLReader] = []
        for (index, item) in sequence.enumerated() {
            guard let mapping = item.mapping else { throw error(key, "item \(index + 1) must be a mapping", at: item) }
            readers.append(YAMLReader(file: file, path: "\(keyPath(key))[\(index)]", node: item, mapping: mapping))
        }
        return readers
    }
}
