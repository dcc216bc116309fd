/// An error in a configuration file (policies, the traffic manager's file): where it is (file,
/// line, column), which key (a dotted path such as `vServers[0].spillover.limit`) and what is
/// wrong.
///
/// `description` is one line: `FILE:LINE:COLUMN: KEY: PROBLEM`.
public struct ConfigFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem has no position (the file cannot be read).
    public var line: Int
    /// 1-based; 0 when unknown.
    public var column: Int
    public var key: String
    public var problem: String

    public init(file: String, line: Int, column: Int, key: String, problem: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.problem = problem
    }

    public var description: String { "\(file):\(line):\(column): \(key): \(problem)" }
}
