import CVMProtocol
import Foundation

/// SHA-256 of a file, streamed in 1 MiB chunks.
enum FileDigest {
    static func sha256(path: String) throws -> (hex: String, bytes: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hasher.update($0) }
            total += Int64(chunk.count)
        }
        return (Hex.encode(hasher.finalize()), total)
    }
}
