import Yams

extension YAMLReader {
    /// A non-empty string (required).
    package func string(_ key: String) throws(ConfigFileError) -> String {
        let node = try required(key)
        guard let text = node.scalar?.string, !text.isEmpty else { throw error(key, "expected a non-empty string", at: node) }
        return text
    }

    package func optionalString(_ key: String) throws(ConfigFileError) -> String? {
        has(key) ? try string(key) : nil
    }

    /// A list of non-empty strings (required).
    package func stringList(_ key: String) throws(ConfigFileError) -> [String] {
        let node = try required(key)
        guard let sequence = node.sequence else { throw error(key, "expected a list", at: node) }
        var strings: [String] = []
        for item in sequence {
            guard let text = item.scalar?.string, !text.isEmpty else { throw error(key, "expected a list of strings", at: item) }
            strings.append(text)
        }
        return strings
    }

    /// A whole number in decimal (`42`, `-7`) within `range` (required). A number beyond
    /// `Int` is out of range like any other, never a trap: give every integer a range that
    /// the code using it can compute with.
    package func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        let node = try required(key)
        guard let text = node.scalar?.string else {
            throw error(key, "expected an integer, found 'a collection'", at: node)
        }
        switch YAMLInteger(decimal: text) {
        case let .value(number) where range.contains(number):
            return number
        case .value, .outOfRange:
            throw error(key, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)", at: node)
        case .notAnInteger:
            throw error(key, "expected an integer, found '\(text)'", at: node)
        }
    }

    package func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int? {
        has(key) ? try int(key, in: range) : nil
    }

    /// `true`, `yes`, `on` or `false`, `no`, `off` (required).
    package func bool(_ key: String) throws(ConfigFileError) -> Bool {
        let node = try required(key)
        switch node.scalar?.string {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, "expected true or false", at: node)
        }
    }

    /// One of the raw values of `T` (required).
    package func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type) throws(ConfigFileError) -> T
    where T.RawValue == String {
        let node = try required(key)
        guard let text = node.scalar?.string, let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(key, "expected one of: \(names), found '\(node.scalar?.string ?? "a collection")'", at: node)
        }
        return value
    }
}
