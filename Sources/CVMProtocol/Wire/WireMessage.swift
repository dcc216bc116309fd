/// One line of the agent protocol.
///
/// Format (one message per line, fields separated by exactly one space):
///
///     CVM1 <KIND> k1=v1 k2=v2 ... mac=<64 lower-case hex>\n
///
/// * KIND: `HB` heartbeat (guest -> host), `CMD` command (host -> guest), `ACK` command
///   acknowledgement (guest -> host), `BYE` last words before power-off (guest -> host).
/// * keys: 1–32 of `[A-Za-z0-9_]`, never `mac`, each at most once; order is kept.
/// * values: `PercentEncoding` (no space, `=`, newline or bare `%` on the wire).
/// * mac: HMAC-SHA256(secret, the bytes of the line before ` mac=`).
///
/// A message built in code has no MAC until it is rendered with `render(signedWith:)`.
/// A parsed message keeps the exact bytes it was signed over, so `verify(secret:)` checks
/// what was received, not a re-rendering of it.
public struct WireMessage: Sendable, Equatable {
    /// The protocol tag every line starts with.
    public static let magic = "CVM1"

    public enum Kind: String, Sendable, CaseIterable {
        case heartbeat = "HB"
        case command = "CMD"
        case acknowledgement = "ACK"
        case goodbye = "BYE"
    }

    /// One `key=value` pair (value decoded).
    public struct Field: Sendable, Equatable {
        public let key: String
        public let value: String

        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    public let kind: Kind
    /// The fields in wire order, without `mac`.
    public let fields: [Field]
    /// For a parsed message: the bytes the MAC covers. Nil for a message built in code.
    public let signedBytes: [UInt8]?
    /// For a parsed message: the 32-byte MAC it carried. Nil for a message built in code.
    public let mac: [UInt8]?

    /// Builds an unsigned message.
    /// - Throws: `WireError(.malformedField)` for an invalid or reserved key,
    ///   `WireError(.duplicateKey)` for a repeated one.
    public init(kind: Kind, fields: [Field]) throws {
        var seen = Set<String>()
        for field in fields {
            guard WireMessage.isValidKey(field.key) else {
                throw WireError(.malformedField, key: field.key, "invalid or reserved key")
            }
            guard seen.insert(field.key).inserted else {
                throw WireError(.duplicateKey, key: field.key, "key repeated")
            }
        }
        self.init(kind: kind, fields: fields, signedBytes: nil, mac: nil)
    }

    init(kind: Kind, fields: [Field], signedBytes: [UInt8]?, mac: [UInt8]?) {
        self.kind = kind
        self.fields = fields
        self.signedBytes = signedBytes
        self.mac = mac
    }

    /// The decoded value of `key`, or nil.
    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// The line without the MAC: `CVM1 KIND k=v ...` (no trailing space or newline).
    public func unsignedBytes() -> [UInt8] {
        var out = Array("\(WireMessage.magic) \(kind.rawValue)".utf8)
        for field in fields {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: field.key.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: PercentEncoding.encode(field.value).utf8)
        }
        return out
    }

    /// The complete signed line, newline included, ready to write.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        var line = unsignedBytes()
        let tag = HMACSHA256.authenticationCode(for: line, key: secret)
        line.append(contentsOf: " mac=".utf8)
        line.append(contentsOf: Hex.encode(tag).utf8)
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// `render(signedWith:)` as text.
    public func renderedLine(signedWith secret: [UInt8]) -> String {
        String(decoding: render(signedWith: secret), as: UTF8.self)
    }

    /// True when this is a parsed message whose MAC matches `secret`. Constant-time in the
    /// MAC comparison. Always false for a message built in code (it carries no MAC).
    public func verify(secret: [UInt8]) -> Bool {
        guard let signedBytes, let mac else { return false }
        let expected = HMACSHA256.authenticationCode(for: signedBytes, key: secret)
        return constantTimeEquals(expected, mac)
    }

    static func isValidKey(_ key: String) -> Bool {
        guard (1...32).contains(key.utf8.count), key != "mac" else { return false }
        return key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }
}
