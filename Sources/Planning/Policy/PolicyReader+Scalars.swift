import ConfigFile
import Yams

extension PolicyReader {
    /// A name or word. Integers and numbers are accepted as their text (a host may be called
    /// `1`); booleans, null, lists and mappings are not.
    mutating func string(_ field: PolicyField) -> String? {
        guard let scalar = field.value.scalar, !field.value.isNull, field.value.tagName != .bool else {
            report(.wrongType, at: field.valueLocation, key: field.path, "expected a string, found \(field.value.kindDescription)")
            return nil
        }
        guard !scalar.string.isEmpty else {
            report(.invalidValue, at: field.valueLocation, key: field.path, "must not be empty")
            return nil
        }
        return scalar.string
    }

    /// The largest whole number a policy may give, whatever the key's own range: counts,
    /// vCPUs and MiB beyond it are mistakes, and below it their products (`minCVMs ×
    /// memoryMiB`) stay far from overflowing.
    static let largestInteger = 1_000_000_000

    /// A whole number within `range` (and within ±`largestInteger`). Quoted numbers are
    /// strings, hence wrong type; a number too large for `Int` is out of range.
    mutating func int(_ field: PolicyField, in range: ClosedRange<Int>) -> Int? {
        guard field.value.tagName == .int, let scalar = field.value.scalar else {
            report(.wrongType, at: field.valueLocation, key: field.path, "expected an integer, found \(field.value.kindDescription)")
            return nil
        }
        let bounded = max(range.lowerBound, -Self.largestInteger)...min(range.upperBound, Self.largestInteger)
        switch YAMLInteger(yaml11: scalar.string) {
        case let .value(value) where !range.contains(value):
            report(.invalidValue, at: field.valueLocation, key: field.path, "\(value) is out of range \(describe(range))")
        case let .value(value) where bounded.contains(value):
            return value
        case .value, .outOfRange:
            report(.invalidValue, at: field.valueLocation, key: field.path, "\(scalar.string) is out of range \(describe(bounded))")
        case .notAnInteger:
            report(.wrongType, at: field.valueLocation, key: field.path, "expected an integer, found \(field.value.kindDescription)")
        }
        return nil
    }

    /// A finite number (integer or decimal) satisfying `valid`, described by `requirement`
    /// (as in "must be > 0").
    mutating func number(_ field: PolicyField, _ requirement: String, valid: (Double) -> Bool) -> Double? {
        let tagName = field.value.tagName
        guard tagName == .int || tagName == .float, let value = field.value.float, value.isFinite else {
            report(.wrongType, at: field.valueLocation, key: field.path, "expected a number, found \(field.value.kindDescription)")
            return nil
        }
        guard valid(value) else {
            report(.invalidValue, at: field.valueLocation, key: field.path, "\(field.value.scalar?.string ?? "\(value)") \(requirement)")
            return nil
        }
        return value
    }

    /// One of the raw values of `E`.
    mutating func choice<E: RawRepresentable & CaseIterable>(_ field: PolicyField, of type: E.Type) -> E? where E.RawValue == String {
        guard let word = string(field) else { return nil }
        guard let value = E(rawValue: word) else {
            let words = E.allCases.map(\.rawValue)
            var message = "'\(word)' is not one of \(words.joined(separator: ", "))"
            if let suggestion = Self.closestMatch(to: word, in: words) { message += "; did you mean '\(suggestion)'?" }
            report(.invalidValue, at: field.valueLocation, key: field.path, message)
            return nil
        }
        return value
    }

    /// A list of names, each with its own location recorded under `path[i]`. A single name is
    /// not silently promoted to a list.
    mutating func nameList(_ field: PolicyField) -> [PolicyReference]? {
        guard let sequence = field.value.sequence else {
            report(.wrongType, at: field.valueLocation, key: field.path, "expected a list of names, found \(field.value.kindDescription)")
            return nil
        }
        var names: [PolicyReference] = []
        for (i, node) in sequence.enumerated() {
            let item = PolicyField(key: field.key, path: "\(field.path)[\(i)]", keyLocation: location(node), value: node, valueLocation: location(node))
            sources.record(value: item.path, at: item.valueLocation)
            guard let name = string(item) else { continue }
            names.append(PolicyReference(name: name, path: item.path, location: item.valueLocation))
        }
        return names
    }

    /// A single name that refers to something defined elsewhere (a tier, an image).
    mutating func reference(_ field: PolicyField) -> PolicyReference? {
        string(field).map { PolicyReference(name: $0, path: field.path, location: field.valueLocation) }
    }

    private func describe(_ range: ClosedRange<Int>) -> String {
        range.upperBound == .max ? ">= \(range.lowerBound)" : "\(range.lowerBound)...\(range.upperBound)"
    }
}
