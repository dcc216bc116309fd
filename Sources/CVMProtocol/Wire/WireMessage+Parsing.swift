extension WireMessage {
    /// Parses one line (with or without its trailing `\n`).
    ///
    /// Only syntax is checked here; call `verify(secret:)` before trusting the content.
    /// - Throws: `WireError` saying what is malformed.
    public static func parse<C: Collection>(_ line: C) throws -> WireMessage where C.Element == UInt8 {
        var bytes = Array(line)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }

        let macMarker = Array(" mac=".utf8)
        guard let markerStart = lastIndex(of: macMarker, in: bytes) else {
            throw WireError(.missingMAC, "no mac field")
        }
        let macText = bytes[(markerStart + macMarker.count)...]
        guard macText.count == 64, let mac = Hex.decode(String(decoding: macText, as: UTF8.self)) else {
            throw WireError(.missingMAC, key: "mac", "mac must be 64 hex digits at the end of the line")
        }
        let signed = Array(bytes[..<markerStart])

        let tokens = signed.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard tokens.count >= 2, tokens[0].elementsEqual(magic.utf8) else {
            throw WireError(.badMagic, "line must start with \(magic) and a kind")
        }
        let kindText = String(decoding: tokens[1], as: UTF8.self)
        guard let kind = Kind(rawValue: kindText) else {
            throw WireError(.unknownKind, "unknown kind \(PercentEncoding.encode(kindText))")
        }

        var fields: [Field] = []
        var seen = Set<String>()
        for token in tokens.dropFirst(2) {
            guard let equals = token.firstIndex(of: UInt8(ascii: "=")) else {
                throw WireError(.malformedField, "token without '=' (or a double space)")
            }
            let key = String(decoding: token[..<equals], as: UTF8.self)
            guard isValidKey(key) else {
                throw WireError(.malformedField, key: PercentEncoding.encode(key), "invalid key")
            }
            let rawValue = token[(equals + 1)...]
            guard !rawValue.contains(UInt8(ascii: "=")), let value = PercentEncoding.decode(rawValue) else {
                throw WireError(.badEscape, key: key, "bad %-escape or bare '=' in value")
            }
            guard seen.insert(key).inserted else {
                throw WireError(.duplicateKey, key: key, "key repeated")
            }
            fields.append(Field(key, value))
        }
        return WireMessage(kind: kind, fields: fields, signedBytes: signed, mac: mac)
    }

    /// Parses one line of text.
    public static func parse(_ line: String) throws -> WireMessage {
        try parse(Array(line.utf8))
    }

    private static func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var start = haystack.count - needle.count
        while start >= 0 {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
            start -= 1
        }
        return nil
    }
}
