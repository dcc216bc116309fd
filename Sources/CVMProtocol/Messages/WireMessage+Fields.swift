// Field accessors shared by the typed message views.
extension WireMessage {
    func require(_ key: String) throws -> String {
        guard let value = self[key] else {
            throw WireError(.missingField, key: key, "\(kind.rawValue) needs \(key)")
        }
        return value
    }

    func requireUInt64(_ key: String) throws -> UInt64 {
        let text = try require(key)
        // Digits only: UInt64(_:) alone would also take a leading "+".
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = UInt64(text) else {
            throw WireError(.invalidField, key: key, "expected an unsigned decimal integer")
        }
        return value
    }

    func requireHex64(_ key: String) throws -> UInt64 {
        let text = try require(key)
        guard text.utf8.count == 16, text.utf8.allSatisfy({ Hex.value(of: $0) != nil }),
              let value = UInt64(text, radix: 16) else {
            throw WireError(.invalidField, key: key, "expected 16 hex digits")
        }
        return value
    }

    func requireKind(_ expected: Kind) throws {
        guard kind == expected else {
            throw WireError(.wrongKind, "expected \(expected.rawValue), got \(kind.rawValue)")
        }
    }

    /// `value` as exactly 16 lower-case hex digits (the boot nonce format).
    static func hex64(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.utf8.count) + digits
    }
}
