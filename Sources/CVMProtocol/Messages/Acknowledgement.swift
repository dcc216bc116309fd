/// The typed view of an `ACK` message: the guest accepted command `seq`.
///
/// Wire fields: `id`, `boot` (16 hex digits), `seq` (the command's), `op` (the command's).
/// An ACK for `stop` is sent before the `BYE`. An ACK for `probe` also carries `result`.
public struct Acknowledgement: Sendable, Equatable {
    public var id: String
    public var boot: UInt64
    public var seq: UInt64
    public var op: Command.Operation
    /// For `probe`: what came of it.
    public var result: ProbeResult?

    public init(id: String, boot: UInt64, seq: UInt64, op: Command.Operation, result: ProbeResult? = nil) {
        self.id = id
        self.boot = boot
        self.seq = seq
        self.op = op
        self.result = op == .probe ? result : nil
    }

    /// Reads an `ACK` message. Does not check the MAC.
    /// - Throws: `WireError` naming the bad field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.acknowledgement)
        guard let op = Command.Operation(rawValue: try message.require("op")) else {
            throw WireError(.invalidField, key: "op", "expected stop, ping, configure, probe or serve")
        }
        var result: ProbeResult?
        if op == .probe {
            guard let value = ProbeResult(rawValue: try message.require("result")) else {
                throw WireError(.invalidField, key: "result", "expected open, refused, timeout, unreachable or error")
            }
            result = value
        }
        self.init(id: try message.require("id"), boot: try message.requireHex64("boot"),
                  seq: try message.requireUInt64("seq"), op: op, result: result)
    }

    /// The unsigned message.
    public var message: WireMessage {
        // Constant, valid keys: cannot throw.
        var fields: [WireMessage.Field] = [
            .init("id", id), .init("boot", WireMessage.hex64(boot)),
            .init("seq", String(seq)), .init("op", op.rawValue),
        ]
        if op == .probe { fields.append(.init("result", (result ?? .error).rawValue)) }
        return try! WireMessage(kind: .acknowledgement, fields: fields)
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }
}
