import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A shared secret kept in a file only its owner may read: the traffic manager's admin
/// token (`cvmctl tms run` creates it, `cvmctl tms usage` and elastic mode read it).
///
/// The file holds 64 hex digits (32 random bytes) and a newline, mode 0600. A file that
/// group or others may read or write is refused: whoever can read it can reload the traffic
/// manager, so it is never trusted (nor used) in that state.
package enum TokenFile {
    /// Why a token file cannot be used. `description` is one actionable line; it never
    /// contains the token.
    package struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        package enum Code: Sendable, Hashable { case missing, unreadable, tooOpen, malformed, uncreatable }
        package var code: Code
        package var path: String
        package var reason: String

        package init(code: Code, path: String, reason: String) {
            self.code = code
            self.path = path
            self.reason = reason
        }

        package var description: String {
            switch code {
            case .missing:
                return "admin token file \(path) does not exist; start `cvmctl tms run` (it creates it) or point --admin-token-file at its token"
            case .unreadable:
                return "cannot read admin token file \(path): \(reason)"
            case .tooOpen:
                return "admin token file \(path) is \(reason); run `chmod 600 \(path)` (or delete it and restart `cvmctl tms run` for a new token)"
            case .malformed:
                return "admin token file \(path) \(reason); delete it and restart `cvmctl tms run` for a new token"
            case .uncreatable:
                return "cannot create admin token file \(path): \(reason)"
            }
        }
    }

    /// Tokens are 32 bytes, written as 64 hex digits.
    package static let length = 64

    /// Reads the token of an existing file. Blocking file I/O.
    /// - Throws: `Failure` when the file is missing, unreadable, open to group or others,
    ///   or does not hold a token.
    package static func read(path: String) throws(Failure) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            let code = errno
            throw Failure(code: code == ENOENT ? .missing : .unreadable, path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw Failure(code: .unreadable, path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw Failure(code: .unreadable, path: path, reason: "not a regular file")
        }
        let permissions = status.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw Failure(code: .tooOpen, path: path, reason: "open to other users (mode \(String(permissions, radix: 8)))")
        }
        var bytes = [UInt8](repeating: 0, count: 256)
        var filled = 0
        while filled < bytes.count {
            let count = bytes[filled...].withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw Failure(code: .unreadable, path: path, reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            filled += count
        }
        let text = String(decoding: bytes[..<filled], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count == length, text.utf8.allSatisfy(isHexDigit) else {
            throw Failure(code: .malformed, path: path, reason: "does not hold a token (\(length) hex digits)")
        }
        return text
    }

    /// The token of `path`; when the file does not exist, a new random token is written there
    /// first (mode 0600, parent directory created with mode 0700). Two processes racing to
    /// create it end up with the same token: the file is created exclusively, and the loser
    /// reads the winner's. Blocking file I/O.
    package static func readOrCreate(path: String) throws(Failure) -> String {
        do {
            return try read(path: path)
        } catch where error.code == .missing {
            // Create below.
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure(code: .uncreatable, path: path, reason: "\(error.localizedDescription)")
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { return try read(path: path) }
            throw Failure(code: .uncreatable, path: path, reason: String(cString: strerror(code)))
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let line = Array((token + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // fchmod: the umask may have taken bits away, never added them; 0600 whatever it is.
        let complete = written == line.count && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        let problem = errno
        close(fd)
        guard complete else {
            unlink(path)
            throw Failure(code: .uncreatable, path: path,
                          reason: written >= 0 && written < line.count ? "short write" : String(cString: strerror(problem)))
        }
        return token
    }

    /// True when `a` and `b` are equal, in time that depends only on `b`'s length (`b` is
    /// the secret): no early exit on the first differing byte.
    package static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        var left = a.makeIterator()
        for right in b {
            difference |= (left.next() ?? 0) ^ right
        }
        return difference == 0
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }
}
