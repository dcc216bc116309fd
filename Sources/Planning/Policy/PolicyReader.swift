import Yams

/// One `key: value` entry of a YAML mapping, with where it was written.
struct PolicyField {
    var key: String
    var path: String
    var keyLocation: PolicyLocation
    var value: Node
    var valueLocation: PolicyLocation
}

/// Reads one composed YAML document with Yams' node API, collecting a diagnostic for every
/// problem instead of stopping at the first, and recording where every key and value was.
///
/// The typed accessors (`string`, `int`, `number`, ...) return nil after reporting when a
/// value does not fit, so callers just skip what is missing.
struct PolicyReader {
    let file: String
    var diagnostics: [PolicyDiagnostic] = []
    var sources: PolicySourceMap

    init(file: String, sources: PolicySourceMap) {
        self.file = file
        self.sources = sources
    }

    func location(_ node: Node) -> PolicyLocation {
        location(node.mark)
    }

    func location(_ mark: Mark?) -> PolicyLocation {
        PolicyLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    mutating func report(_ kind: PolicyDiagnostic.Kind, at location: PolicyLocation, key: String, _ message: String) {
        diagnostics.append(PolicyDiagnostic(kind, at: location, key: key, message))
    }

    /// The entries of a mapping of named things (`tiers:`, `tasks:`), any names allowed.
    /// Reports a non-mapping value and duplicate names.
    mutating func namedEntries(of field: PolicyField) -> [PolicyField] {
        guard let mapping = field.value.mapping else {
            if !field.value.isNull {
                report(.wrongType, at: field.valueLocation, key: field.path,
                       "expected a mapping of names to definitions, found \(field.value.kindDescription)")
            }
            return []
        }
        return entries(of: mapping, path: field.path)
    }

    /// The fields of a mapping with a fixed schema. Reports a non-mapping value, unknown keys
    /// (suggesting the closest allowed one), duplicate keys, and absent `required` keys (at the
    /// owner's key, since there is no line for what is missing).
    mutating func fields(
        of field: PolicyField, allowed: [String], required: [String] = []
    ) -> [String: PolicyField] {
        guard let mapping = field.value.mapping else {
            report(.wrongType, at: field.valueLocation, key: field.path,
                   "expected a mapping with keys \(allowed.joined(separator: ", ")), found \(field.value.kindDescription)")
            return [:]
        }
        var result: [String: PolicyField] = [:]
        for entry in entries(of: mapping, path: field.path) {
            guard allowed.contains(entry.key) else {
                var message = "unknown key '\(entry.key)'"
                if let suggestion = Self.closestMatch(to: entry.key, in: allowed) {
                    message += "; did you mean '\(suggestion)'?"
                } else {
                    message += " (allowed: \(allowed.joined(separator: ", ")))"
                }
                report(.unknownKey, at: entry.keyLocation, key: entry.path, message)
                continue
            }
            result[entry.key] = entry
        }
        for key in required where result[key] == nil {
            report(.missingKey, at: field.keyLocation, key: field.path + "." + key, "missing required key '\(key)'")
        }
        return result
    }

    private mutating func entries(of mapping: Node.Mapping, path: String) -> [PolicyField] {
        var seen: [String: PolicyLocation] = [:]
        var result: [PolicyField] = []
        for (keyNode, value) in mapping {
            let keyLocation = location(keyNode)
            guard let key = keyNode.scalar?.string, !keyNode.isNull else {
                report(.wrongType, at: keyLocation, key: path, "keys must be plain names, found \(keyNode.kindDescription)")
                continue
            }
            let childPath = path.isEmpty ? key : path + "." + key
            if let first = seen[key] {
                report(.duplicate, at: keyLocation, key: childPath, "duplicate key '\(key)' (first at \(first))")
                continue
            }
            seen[key] = keyLocation
            let valueLocation = location(value)
            sources.record(key: childPath, at: keyLocation)
            sources.record(value: childPath, at: valueLocation)
            result.append(PolicyField(key: key, path: childPath, keyLocation: keyLocation, value: value, valueLocation: valueLocation))
        }
        return result
    }
}

extension Node {
    /// The resolved YAML type: quoted scalars are strings, plain ones are typed by their text.
    var tagName: Tag.Name {
        Resolver.default.resolveTag(of: self)
    }

    var isNull: Bool {
        guard let scalar else { return false }
        return tagName == .null && scalar.style != .singleQuoted && scalar.style != .doubleQuoted
    }

    /// How a value looks to a person reading the error: `a string "fast"`, `a mapping`, ...
    var kindDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case let .scalar(scalar):
            if isNull { return "nothing (null)" }
            switch tagName {
            case .int: return "an integer \(scalar.string)"
            case .float: return "a number \(scalar.string)"
            case .bool: return "a boolean \(scalar.string)"
            default: return "a string \"\(scalar.string)\""
            }
        }
    }
}

extension PolicyReader {
    /// The allowed word closest to `word` by edit distance, if it is close enough to be a typo.
    static func closestMatch(to word: String, in candidates: [String]) -> String? {
        let lowered = Array(word.lowercased())
        var best: (String, Int)?
        for candidate in candidates {
            let distance = Self.editDistance(lowered, Array(candidate.lowercased()))
            if distance <= max(2, candidate.count / 4), distance < (best?.1 ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
