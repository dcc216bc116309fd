/// One problem found in the policy files, pinned to file, line, column and key.
public struct PolicyDiagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The YAML itself does not parse.
        case syntax
        /// A key the schema does not have (often a typo).
        case unknownKey
        /// The same key twice in one mapping, or the same name defined in two places.
        case duplicate
        /// A required key is absent.
        case missingKey
        /// A value of the wrong YAML type (a string where a number belongs, ...).
        case wrongType
        /// A value of the right type but out of range or not one of the allowed words.
        case invalidValue
        /// A reference to a tier, cloud, host, server or image that does not exist.
        case unknownReference
        /// Values that are fine alone but contradict each other (min > max, a tier allowing no host).
        case impossibleCombination
    }

    public var kind: Kind
    public var location: PolicyLocation
    /// Dotted key path of the offending key (`tasks.log-collector.minCVMs`, `tiers.gold.allowedHosts[1]`).
    public var key: String
    public var message: String

    public init(_ kind: Kind, at location: PolicyLocation, key: String, _ message: String) {
        self.kind = kind
        self.location = location
        self.key = key
        self.message = message
    }

    public static func < (lhs: PolicyDiagnostic, rhs: PolicyDiagnostic) -> Bool {
        (lhs.location, lhs.key, lhs.message) < (rhs.location, rhs.key, rhs.message)
    }

    /// `tiers.yaml:4:5: error: tiers.gold.security: ...`
    public var description: String {
        "\(location): error: \(key.isEmpty ? "" : key + ": ")\(message)"
    }
}
