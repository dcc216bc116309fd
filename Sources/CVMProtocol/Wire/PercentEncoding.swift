/// The value escaping of the wire format.
///
/// `%`, space, `=`, every control byte (newline and carriage return included) and DEL are
/// written as `%XX` (upper-case hex); every other byte, UTF-8 included, is written as is.
/// Decoding accepts `%XX` in either case for any byte.
public enum PercentEncoding {
    /// Escapes `value` so it contains no space, `=`, newline or bare `%`.
    public static func encode(_ value: String) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            if mustEscape(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0f)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Reverses `encode`. Returns nil on a `%` not followed by two hex digits.
    /// Invalid UTF-8 in the result is replaced by U+FFFD.
    public static func decode<C: Collection>(_ encoded: C) -> String? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count)
        var iterator = encoded.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Hex.value(of:)),
                      let low = iterator.next().flatMap(Hex.value(of:)) else { return nil }
                out.append(high << 4 | low)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func mustEscape(_ byte: UInt8) -> Bool {
        byte < 0x21 || byte == 0x7f || byte == UInt8(ascii: "%") || byte == UInt8(ascii: "=")
    }
}
