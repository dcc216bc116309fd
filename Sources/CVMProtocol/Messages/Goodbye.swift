/// The typed view of a `BYE` message: the guest's last line before it powers off.
///
/// Wire fields: `id`, `boot` (16 hex digits), `seq` (the next heartbeat sequence number of
/// this boot, so it orders after every heartbeat sent), `reason` (e.g. `stop`).
public struct Goodbye: Sendable, Equatable {
    public var id: String
    public var boot: UInt64
    public var seq: UInt64
    public var reason: String

    public init(id: String, boot: UInt64, seq: UInt64, reason: String) {
        self.id = id
        self.boot = boot
        self.seq = seq
        self.reason = reason
    }

    /// Reads a `BYE` message. Does not check the MAC.
    /// - Throws: `WireError` naming the bad field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.goodbye)
        self.init(id: try message.require("id"), boot: try message.requireHex64("boot"),
                  seq: try message.requireUInt64("seq"), reason: try message.require("reason"))
    }

    /// The unsigned message.
    public var message: WireMessage {
        // Constant, valid keys: cannot throw.
        try! WireMessage(kind: .goodbye, fields: [
            .init("id", id), .init("boot", WireMessage.hex64(boot)),
            .init("seq", String(seq)), .init("reason", reason),
        ])
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }
}
