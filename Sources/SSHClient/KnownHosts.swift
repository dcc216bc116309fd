import CLibssh2
import Foundation

/// The pinned host keys of one OpenSSH-format known_hosts file, read through libssh2's
/// knownhost API (plain and hashed `|1|…` host names, `[address]:port` entries).
///
/// A snapshot: the file is read once, in `init`. `append(…)` writes to the file only.
/// Not thread-safe; owned by one `SSHSession` at a time.
final class KnownHosts {
    /// The outcome of comparing a presented key with the pinned ones.
    enum Verdict: Equatable {
        case match
        /// The host is pinned (under any key type) but not with this key.
        case mismatch
        /// The host has no entry at all.
        case notFound
    }

    struct LoadError: Error {
        var message: String
    }

    let path: String
    /// libssh2 allocates a knownhost collection through a session; this one never connects.
    private let scratchSession: OpaquePointer
    private let collection: OpaquePointer

    /// Reads `path`. A missing file counts as empty only when `missingIsEmpty`.
    init(path: String, missingIsEmpty: Bool) throws(LoadError) {
        guard libssh2Initialization == 0 else { throw LoadError(message: "libssh2_init failed") }
        guard let session = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw LoadError(message: "libssh2_session_init failed")
        }
        guard let collection = libssh2_knownhost_init(session) else {
            libssh2_session_free(session)
            throw LoadError(message: "libssh2_knownhost_init failed")
        }
        self.path = path
        self.scratchSession = session
        self.collection = collection
        if access(path, F_OK) != 0, errno == ENOENT {
            if missingIsEmpty { return }
            throw LoadError(message: "\(path): no such file")
        }
        if libssh2_knownhost_readfile(collection, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 {
            throw LoadError(message: "\(path): \(libssh2LastError(scratchSession))")
        }
    }

    deinit {
        libssh2_knownhost_free(collection)
        libssh2_session_free(scratchSession)
    }

    /// The key types pinned for `host:port`, most preferred first. Hashed (`|1|…`)
    /// entries count too: each type is probed with a key that cannot match, and
    /// "mismatch" means the host has an entry of that type.
    func keyTypes(host: String, port: Int) -> [HostKeyType] {
        HostKeyType.allCases.filter { type in
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            let impossibleKey: [CChar] = [0]
            let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostKeyBits
            let rc = libssh2_knownhost_checkp(collection, host, Int32(port), impossibleKey, 1, typemask, &entry)
            return rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH || rc == LIBSSH2_KNOWNHOST_CHECK_MATCH
        }
    }

    /// Compares the key the server presented (raw SSH wire blob, as from
    /// `libssh2_session_hostkey`) with the entries for `host:port`.
    func check(host: String, port: Int, key: [UInt8], type: HostKeyType) throws(LoadError) -> Verdict {
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.knownHostKeyBits
        let rc = key.withUnsafeBytes { blob in
            libssh2_knownhost_checkp(
                collection, host, Int32(port), blob.baseAddress?.assumingMemoryBound(to: CChar.self),
                blob.count, typemask, &entry)
        }
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            return .mismatch
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            // libssh2 compares only entries of the presented key type. A host pinned under
            // another type is known, and a different key is a mismatch, not a new host.
            return keyTypes(host: host, port: port).isEmpty ? .notFound : .mismatch
        default:
            throw LoadError(message: "\(path): libssh2_knownhost_checkp failed: \(libssh2LastError(scratchSession))")
        }
    }

    /// The known_hosts line pinning `key` for `host:port`: `10.0.0.5 ssh-ed25519 AAAA…`,
    /// or `[10.0.0.5]:2222 …` when the port is not 22 (OpenSSH's convention).
    static func line(host: String, port: Int, type: HostKeyType, key: [UInt8]) -> String {
        let name = port == 22 ? host : "[\(host)]:\(port)"
        return "\(name) \(type.name) \(Data(key).base64EncodedString())"
    }

    /// Appends `line` to the file at `path` (created with mode 0600 when missing),
    /// starting a new line first if the file does not end with one.
    static func append(line: String, to path: String) throws(LoadError) {
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LoadError(message: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var last: UInt8 = 0x0A
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 { _ = pread(fd, &last, 1, size - 1) }
        let bytes = Array(((last == 0x0A ? "" : "\n") + line + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw LoadError(message: "\(path): short write: \(String(cString: strerror(errno)))")
        }
    }
}

/// The message of the last libssh2 error on `session`, or a placeholder when there is none.
func libssh2LastError(_ session: OpaquePointer) -> String {
    var message: UnsafeMutablePointer<CChar>?
    var length: Int32 = 0
    libssh2_session_last_error(session, &message, &length, 0)
    guard let message, length > 0 else { return "no detail from libssh2" }
    return String(decoding: UnsafeRawBufferPointer(start: message, count: Int(length)), as: UTF8.self)
}
