/// One line of a connection trace: at `time` (since the trace's start), on `core`, client
/// `client` opens or closes a connection.
public struct TraceEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case open, close
    }

    public let time: Duration
    public let core: Int
    public let kind: Kind
    public let client: String
    /// The 1-based line of the trace file, for error messages.
    public let line: Int

    public init(time: Duration, core: Int, kind: Kind, client: String, line: Int) {
        self.time = time
        self.core = core
        self.kind = kind
        self.client = client
        self.line = line
    }
}

/// A trace that cannot be replayed: the line and what is wrong with it.
public struct TraceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}
