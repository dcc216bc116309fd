/// HMAC-SHA256 (RFC 2104) over the project's own `SHA256`.
///
/// Streaming: create it with the key, `update` any number of times, then `finalize()`.
/// Keys longer than the block size (64 bytes) are hashed first, as the RFC requires.
public struct HMACSHA256: Sendable {
    /// Size of the tag in bytes.
    public static let tagByteCount = 32

    private var inner: SHA256
    private var outerKeyPad: [UInt8]

    /// Starts an HMAC computation keyed with `key` (any length).
    public init<K: Sequence>(key: K) where K.Element == UInt8 {
        var keyBytes = Array(key)
        if keyBytes.count > SHA256.blockByteCount {
            keyBytes = SHA256.hash(keyBytes)
        }
        keyBytes.append(contentsOf: repeatElement(0, count: SHA256.blockByteCount - keyBytes.count))
        inner = SHA256()
        inner.update(keyBytes.map { $0 ^ 0x36 })
        outerKeyPad = keyBytes.map { $0 ^ 0x5c }
    }

    /// Feeds message bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        inner.update(bytes)
    }

    /// Feeds message bytes.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        inner.update(bytes)
    }

    /// Returns the 32-byte tag and consumes the value.
    public consuming func finalize() -> [UInt8] {
        let innerDigest = inner.finalize()
        var outer = SHA256()
        outer.update(outerKeyPad)
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// One-shot tag of `message` under `key`.
    public static func authenticationCode<K: Sequence, M: Sequence>(
        for message: M, key: K
    ) -> [UInt8] where K.Element == UInt8, M.Element == UInt8 {
        var mac = HMACSHA256(key: key)
        mac.update(message)
        return mac.finalize()
    }
}

/// Compares two byte strings in time that depends only on their lengths, never on where
/// they differ. Use it for every MAC comparison.
public func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
where A.Element == UInt8, B.Element == UInt8 {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) {
        difference |= x ^ y
    }
    return difference == 0
}
