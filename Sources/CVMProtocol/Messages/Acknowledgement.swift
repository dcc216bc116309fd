/// The typed view of an `ACK` message: the guest accepted command `seq`.
///
/// Wire fields: `id`, `boot` (16 hex digits), `seq` (the command's), `op` (the command's).
/// An ACK for `stop` is sent before the `BYE`.
public struct Acknowledgement: Sendable, Equatable {
    public var id: String
    public var boot: UInt64
    public var seq: UInt64
    public var op: Command.Operation

    public init(id: String, boot: UInt64, seq: UInt64, op: Command.Operation) {
        self.id = id
        self.boot = boot
        self.seq = seq
        self.op = op
    }

    /// Reads an `ACK` message. Does not check the MAC.
    /// - Throws: `WireError` naming the bad field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.acknowledgement)
        guard let op = Command.Operation(rawValue: try message.require("op")) else {
            throw WireError(.invalidField, key: "op", "expected stop, ping or configure")
        }
        self.init(id: try message.require("id"), boot: try message.requireHex64("boot"),
                  seq: try message.requireUInt64("seq"), op: op)
    }

    /// The unsigned message.
    public var message: WireMessage {
        // Constant, valid keys: cannot throw.
        try! WireMessage(kind: .acknowledgement, fields: [
            .init("id", id), .init("boot", WireMessage.hex64(boot)),
            .init("seq", String(seq)), .init("op", op.rawValue),
        ])
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }
}
