import CLibssh2
import Foundation

/// What SFTP reports about a remote path (fields the server did not send are nil).
public struct SFTPAttributes: Sendable, Equatable {
    public var size: UInt64?
    /// Type and permission bits, as in `st_mode`.
    public var mode: UInt32?

    public var isDirectory: Bool { mode.map { $0 & UInt32(LIBSSH2_SFTP_S_IFMT) == UInt32(LIBSSH2_SFTP_S_IFDIR) } ?? false }
    public var isRegularFile: Bool { mode.map { $0 & UInt32(LIBSSH2_SFTP_S_IFMT) == UInt32(LIBSSH2_SFTP_S_IFREG) } ?? false }
}

extension SSHSession {
    /// The attributes of `remotePath` (symbolic links followed), or nil when it does not exist.
    /// - Throws: `SSHError` (`.sftp` for anything but "no such file", `.timeout`, ...).
    public func stat(_ remotePath: String) throws(SSHError) -> SFTPAttributes? {
        let operation = "stat \(remotePath)"
        let sftp = try sftpSession(operation)
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = try retrying(operation, .stall(configuration.ioTimeout)) {
            libssh2_sftp_stat_ex(sftp, remotePath, UInt32(remotePath.utf8.count), LIBSSH2_SFTP_STAT, &attributes)
        }
        if rc != 0 {
            if isMissing(rc, sftp) { return nil }
            throw sftpFailure(rc, sftp, operation: operation)
        }
        let flags = attributes.flags
        return SFTPAttributes(
            size: flags & UInt(LIBSSH2_SFTP_ATTR_SIZE) != 0 ? attributes.filesize : nil,
            mode: flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0 ? UInt32(truncatingIfNeeded: attributes.permissions) : nil)
    }

    /// Whether anything exists at `remotePath`.
    public func fileExists(_ remotePath: String) throws(SSHError) -> Bool {
        try stat(remotePath) != nil
    }

    /// Creates `remotePath` and any missing parents (`mkdir -p`). Existing directories are
    /// fine; an existing non-directory on the way is an `.sftp` error.
    public func makeDirectory(_ remotePath: String, mode: Int32 = 0o755) throws(SSHError) {
        let operation = "mkdir \(remotePath)"
        let sftp = try sftpSession(operation)
        var prefix = remotePath.hasPrefix("/") ? "/" : ""
        for component in remotePath.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if let existing = try stat(prefix) {
                guard existing.isDirectory else {
                    throw SSHError(.sftp, operation: operation, host: peer, message: "\(prefix) exists and is not a directory")
                }
                continue
            }
            let path = prefix
            let rc = try retrying(operation, .stall(configuration.ioTimeout)) {
                libssh2_sftp_mkdir_ex(sftp, path, UInt32(path.utf8.count), Int(mode))
            }
            // Someone else may have created it meanwhile; that is success too.
            if rc != 0, try stat(path)?.isDirectory != true {
                throw sftpFailure(rc, sftp, operation: operation)
            }
        }
    }

    /// Removes the file at `remotePath`. Returns false when there was none.
    @discardableResult
    public func removeFile(_ remotePath: String) throws(SSHError) -> Bool {
        let operation = "remove \(remotePath)"
        let sftp = try sftpSession(operation)
        let rc = try retrying(operation, .stall(configuration.ioTimeout)) {
            libssh2_sftp_unlink_ex(sftp, remotePath, UInt32(remotePath.utf8.count))
        }
        if rc == 0 { return true }
        if isMissing(rc, sftp) { return false }
        throw sftpFailure(rc, sftp, operation: operation)
    }

    /// The SFTP session, opened on first use and kept until `disconnect`.
    func sftpSession(_ operation: String) throws(SSHError) -> OpaquePointer {
        if let sftpSession { return sftpSession }
        let session = try connectedSession(operation)
        guard let sftp = try retryingHandle(operation, .stall(configuration.ioTimeout), { libssh2_sftp_init(session) }) else {
            throw failure(libssh2_session_last_errno(session), operation: operation, default: .sftp)
        }
        sftpSession = sftp
        return sftp
    }

    /// Whether a failed SFTP call failed because the path does not exist.
    func isMissing(_ rc: Int32, _ sftp: OpaquePointer) -> Bool {
        guard rc == LIBSSH2_ERROR_SFTP_PROTOCOL else { return false }
        let status = libssh2_sftp_last_error(sftp)
        return status == LIBSSH2_FX_NO_SUCH_FILE || status == LIBSSH2_FX_NO_SUCH_PATH
    }

    func sftpFailure(_ rc: Int32, _ sftp: OpaquePointer, operation: String) -> SSHError {
        guard rc == LIBSSH2_ERROR_SFTP_PROTOCOL else { return failure(rc, operation: operation, default: .sftp) }
        let status = libssh2_sftp_last_error(sftp)
        var error = failure(rc, operation: operation, default: .sftp,
                            message: "SFTP status \(status) (\(Self.sftpStatusNames[status] ?? "unknown"))")
        error.sftpStatus = status
        return error
    }

    private static let sftpStatusNames: [UInt: String] = [
        LIBSSH2_FX_EOF: "end of file", LIBSSH2_FX_NO_SUCH_FILE: "no such file",
        LIBSSH2_FX_PERMISSION_DENIED: "permission denied", LIBSSH2_FX_FAILURE: "failure",
        LIBSSH2_FX_BAD_MESSAGE: "bad message", LIBSSH2_FX_OP_UNSUPPORTED: "unsupported",
        LIBSSH2_FX_NO_SUCH_PATH: "no such path", LIBSSH2_FX_FILE_ALREADY_EXISTS: "already exists",
        LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: "no space", LIBSSH2_FX_QUOTA_EXCEEDED: "quota exceeded",
    ]
}
