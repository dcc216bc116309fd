/// Why a wire line or a typed message could not be read.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The line does not start with `CVM1 `.
        case badMagic
        /// The KIND token is not HB, CMD, ACK or BYE.
        case unknownKind
        /// A token is not `key=value` with a valid key, or spacing is wrong.
        case malformedField
        /// A `%` escape is broken.
        case badEscape
        /// The same key appears twice.
        case duplicateKey
        /// The line does not end with `mac=` and 64 hex digits.
        case missingMAC
        /// A typed view needs a field that is absent.
        case missingField
        /// A typed view found a field whose value it cannot use.
        case invalidField
        /// The message is of another kind than the typed view expects.
        case wrongKind
    }

    public let code: Code
    /// The key concerned, when there is one.
    public let key: String?
    public let detail: String

    public init(_ code: Code, key: String? = nil, _ detail: String) {
        self.code = code
        self.key = key
        self.detail = detail
    }

    public var description: String {
        if let key { return "wire: \(code.rawValue) (\(key)): \(detail)" }
        return "wire: \(code.rawValue): \(detail)"
    }
}
