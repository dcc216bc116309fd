/// The typed view of a `CMD` message (host -> guest).
///
/// Wire fields: `id` (target CVM), `seq` (chosen by the host, must grow for every new
/// command to one CVM — across host restarts too, e.g. milliseconds since the epoch),
/// `op`.
public struct Command: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable {
        /// Send `BYE`, sync, power off.
        case stop
        /// Only acknowledge (liveness of the command path).
        case ping
    }

    public var id: String
    public var seq: UInt64
    public var op: Operation

    public init(id: String, seq: UInt64, op: Operation) {
        self.id = id
        self.seq = seq
        self.op = op
    }

    /// Reads a `CMD` message. Does not check the MAC.
    /// - Throws: `WireError` naming the bad field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.command)
        guard let op = Operation(rawValue: try message.require("op")) else {
            throw WireError(.invalidField, key: "op", "expected stop or ping")
        }
        self.init(id: try message.require("id"), seq: try message.requireUInt64("seq"), op: op)
    }

    /// The unsigned message.
    public var message: WireMessage {
        // Constant, valid keys: cannot throw.
        try! WireMessage(kind: .command, fields: [
            .init("id", id), .init("seq", String(seq)), .init("op", op.rawValue),
        ])
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }
}
