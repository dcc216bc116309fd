import CLibssh2
import Foundation

extension SSHSession {
    /// Copies the local file `localPath` to `remotePath` over SFTP, resuming an earlier
    /// partial upload when there is one.
    ///
    /// Data goes to `remotePath + ".part"`. When all of it is there (size checked), an
    /// existing `remotePath` is removed and the part file renamed onto it, so
    /// `remotePath` never holds a partial file (it can be briefly absent: SFTP v3 cannot
    /// rename over an existing file).
    ///
    /// Resume: when `remotePath.part` exists and is not longer than the local file, the
    /// upload continues at its size and trusts the bytes already there; a longer one is
    /// truncated and rewritten. Callers that need integrity compare a checksum afterwards.
    ///
    /// - Parameter progress: called with (bytes on the server, total): first with the
    ///   resume point, then after every acknowledged write, never decreasing, the last
    ///   call with done == total. Return false to stop: the upload then throws
    ///   `.cancelled` and leaves the part file for a later resume.
    /// - Throws: `SSHError` with `.localFile`, `.sftp`, `.timeout` (no progress for
    ///   `configuration.ioTimeout`), `.cancelled`, `.disconnected` or `.notConnected`.
    public func upload(
        localPath: String, remotePath: String, mode: Int32 = 0o644,
        progress: (_ done: UInt64, _ total: UInt64) -> Bool = { _, _ in true }
    ) throws(SSHError) {
        let operation = "upload \(remotePath)"
        let limit = WaitLimit.stall(configuration.ioTimeout)
        let sftp = try sftpSession(operation)
        let session = try connectedSession(operation)

        let fd = open(localPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SSHError(.localFile, operation: operation, host: peer, message: "\(localPath): \(systemErrorText())") }
        defer { close(fd) }
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw SSHError(.localFile, operation: operation, host: peer, message: "\(localPath) is not a regular file")
        }
        let total = UInt64(info.st_size)

        let part = remotePath + ".part"
        var done: UInt64 = 0
        if let existing = try stat(part), existing.isRegularFile, let size = existing.size, size <= total {
            done = size
        }
        let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT) | (done == 0 ? UInt(LIBSSH2_FXF_TRUNC) : 0)
        guard let handle = try retryingHandle(operation, limit, {
            libssh2_sftp_open_ex(sftp, part, UInt32(part.utf8.count), flags, Int(mode), LIBSSH2_SFTP_OPENFILE)
        }) else {
            throw sftpFailure(libssh2_session_last_errno(session), sftp, operation: operation)
        }
        var handleOpen = true
        defer {
            if handleOpen { _ = try? retrying(operation, .until(.now + .seconds(2))) { libssh2_sftp_close_handle(handle) } }
        }
        if done > 0 { libssh2_sftp_seek64(handle, done) }

        func stopped() -> SSHError {
            SSHError(.cancelled, operation: operation, host: peer,
                     message: "stopped by the caller at \(done) of \(total) bytes; \(part) is kept for resuming")
        }
        guard progress(done, total) else { throw stopped() }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        while done < total {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(done)) }
            guard count > 0 else {
                throw SSHError(.localFile, operation: operation, host: peer,
                               message: "\(localPath): " + (count == 0 ? "file shrank during the upload" : systemErrorText()))
            }
            var sent = 0
            while sent < count {
                // After EAGAIN libssh2 wants the same bytes again: `sent` only moves on success.
                let written = try retrying(operation, limit) {
                    buffer.withUnsafeBytes { bytes in
                        libssh2_sftp_write(handle, bytes.baseAddress!.advanced(by: sent).assumingMemoryBound(to: CChar.self),
                                           count - sent)
                    }
                }
                guard written >= 0 else { throw sftpFailure(Int32(written), sftp, operation: operation) }
                sent += written
                done += UInt64(written)
                guard progress(done, total) else { throw stopped() }
            }
        }

        handleOpen = false
        let closed = try retrying(operation, limit) { libssh2_sftp_close_handle(handle) }
        guard closed == 0 else { throw sftpFailure(closed, sftp, operation: operation) }
        let size = try stat(part)?.size
        guard size == total else {
            throw SSHError(.sftp, operation: operation, host: peer,
                           message: "\(part) has \(size.map(String.init) ?? "no") bytes after the upload, expected \(total)")
        }
        try removeFile(remotePath)
        let renamed = try retrying(operation, limit) {
            libssh2_sftp_rename_ex(sftp, part, UInt32(part.utf8.count), remotePath, UInt32(remotePath.utf8.count),
                                   Int(LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE))
        }
        guard renamed == 0 else { throw sftpFailure(renamed, sftp, operation: operation) }
    }
}
