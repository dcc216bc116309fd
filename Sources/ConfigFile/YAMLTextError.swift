/// Why a text was not turned into a YAML node: too large, nested too deep, or not YAML.
/// `line` and `column` are 1-based (1:1 for a problem of the whole text).
package struct YAMLTextError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Code: Sendable, Hashable {
        /// Larger than `YAMLLimits.maximumBytes`; not parsed.
        case tooLarge
        /// Nested deeper than `YAMLLimits.maximumDepth`; not parsed.
        case tooDeep
        /// libyaml refused it.
        case syntax
    }

    package var code: Code
    package var line: Int
    package var column: Int
    /// One line: libyaml's problem and context for `.syntax`, the limit for the others.
    package var message: String

    package init(code: Code, line: Int, column: Int, message: String) {
        self.code = code
        self.line = line
        self.column = column
        self.message = message
    }

    package var description: String { "\(line):\(column): \(message)" }
}

extension ConfigFileError {
    /// The configuration-file error for a text of `file` that could not be parsed: key `-`,
    /// and a syntax problem reads `not valid YAML: ...`.
    package init(_ error: YAMLTextError, file: String) {
        let problem = error.code == .syntax ? "not valid YAML: \(error.message)" : error.message
        self.init(file: file, line: error.line, column: error.column, key: "-", problem: problem)
    }
}
