/// A place in a policy file: 1-based line and column.
public struct PolicyLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public static func < (lhs: PolicyLocation, rhs: PolicyLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }

    /// `file:line:column`, the form editors and compilers use.
    public var description: String { "\(file):\(line):\(column)" }
}

/// Where each key of a loaded policy was written, by key path (`tiers.gold.security`), so
/// later checks and explanations can point at the line that caused them.
public struct PolicySourceMap: Sendable, Hashable {
    /// Location of the key itself (`security:`).
    public private(set) var keys: [String: PolicyLocation] = [:]
    /// Location of the value (`local-only`).
    public private(set) var values: [String: PolicyLocation] = [:]

    public init() {}

    mutating func record(key path: String, at location: PolicyLocation) {
        keys[path] = location
    }

    mutating func record(value path: String, at location: PolicyLocation) {
        values[path] = location
    }

    /// The value's location if known, else the key's.
    public func location(of path: String) -> PolicyLocation? {
        values[path] ?? keys[path]
    }
}
