/// Why an `AgentConfig` could not be built or parsed.
///
/// `line` is the 1-based line of the file (nil when the value came from code or the key is
/// missing altogether); `key` is the offending key when there is one. The message never
/// repeats a secret value.
public struct AgentConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A line that is neither blank, a comment, nor `key=value`.
        case syntax
        case unknownKey
        case duplicateKey
        case missingKey
        case invalidValue
    }

    public let code: Code
    public let line: Int?
    public let key: String?
    public let message: String

    public init(_ code: Code, line: Int?, key: String?, _ message: String) {
        self.code = code
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = "config"
        if let line { text += ":\(line)" }
        if let key { text += ": \(key)" }
        return text + ": \(message)"
    }
}
