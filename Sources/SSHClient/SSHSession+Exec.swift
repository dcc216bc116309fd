import CLibssh2
import Foundation

extension SSHSession {
    /// Runs `command` with the remote user's shell (`$SHELL -c command`) and waits for it to end.
    ///
    /// The command's stdin is closed at once (commands that read it see end of file).
    /// stdout and stderr are read together, so neither can stall the other however much
    /// either produces. `timeout` bounds the whole call; when it passes the channel is
    /// closed (sshd then hangs up on the command, which may still finish on its own) and
    /// `.timeout` is thrown. The session stays usable.
    ///
    /// `maxOutputBytes` bounds what is kept of each stream (default 16 MiB): a command that
    /// writes more to stdout or to stderr is cut off like one that times out, and
    /// `.outputTooLarge` is thrown, rather than holding all of it in memory.
    ///
    /// - Returns: the exit status, or 128 + the signal number when the command was killed
    ///   by a signal (as a POSIX shell reports it; 255 for a signal without a number here),
    ///   and everything the command wrote to stdout and stderr.
    /// - Throws: `SSHError` with `.notConnected`, `.channel`, `.timeout`, `.outputTooLarge`
    ///   or `.disconnected`.
    public func exec(_ command: String, timeout: Duration = .seconds(60),
                     maxOutputBytes: Int = SSHSession.defaultMaxOutputBytes) throws(SSHError)
        -> (exitStatus: Int32, stdout: [UInt8], stderr: [UInt8])
    {
        let operation = "exec"
        let session = try connectedSession(operation)
        let limit = WaitLimit.until(.now + timeout)
        guard let channel = try retryingHandle(operation, limit, { cvm_channel_open_session(session) }) else {
            throw failure(libssh2_session_last_errno(session), operation: operation, default: .channel)
        }
        defer { release(channel) }

        let started = try retrying(operation, limit) {
            libssh2_channel_process_startup(channel, "exec", 4, command, UInt32(command.utf8.count))
        }
        guard started == 0 else { throw failure(started, operation: operation, default: .channel) }
        let eofSent = try retrying(operation, limit) { libssh2_channel_send_eof(channel) }
        guard eofSent == 0 else { throw failure(eofSent, operation: operation, default: .channel) }

        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        while true {
            let outRC = try drain(channel, stream: 0, into: &stdout, limit: maxOutputBytes, buffer: &buffer)
            let errRC = try drain(channel, stream: SSH_EXTENDED_DATA_STDERR, into: &stderr, limit: maxOutputBytes, buffer: &buffer)
            for rc in [outRC, errRC] where rc < 0 && rc != Int(LIBSSH2_ERROR_EAGAIN) {
                throw failure(Int32(rc), operation: operation, default: .channel)
            }
            // Each read pulls every packet off the socket, for both streams: the stderr
            // read may have queued stdout data, or the EOF, after the stdout read said
            // EAGAIN. So decide on the channel's state now, not on the two answers.
            var queued: UInt = 0
            libssh2_channel_window_read_ex(channel, &queued, nil)
            if queued > 0 { continue }
            // EOF, and (checked by libssh2_channel_eof) no data left for either stream.
            if libssh2_channel_eof(channel) == 1 { break }
            try waitForSocket(operation, limit)
        }
        let closed = try retrying(operation, limit) { libssh2_channel_close(channel) }
        guard closed == 0 else { throw failure(closed, operation: operation, default: .channel) }
        let waited = try retrying(operation, limit) { libssh2_channel_wait_closed(channel) }
        guard waited == 0 else { throw failure(waited, operation: operation, default: .channel) }

        return (exitStatus(channel, session: session), stdout, stderr)
    }

    /// `text` quoted for a POSIX shell, e.g. to build `exec` command lines from paths:
    /// `'it'\''s'` for `it's`.
    public static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// What `exec` keeps of each of stdout and stderr unless told otherwise: 16 MiB.
    public static let defaultMaxOutputBytes = 16 << 20

    /// Reads what is available on one stream. Returns 0 at end of file, EAGAIN when more
    /// may come, or a negative libssh2 error; throws `.outputTooLarge` past `limit` bytes.
    private func drain(_ channel: OpaquePointer, stream: Int32, into output: inout [UInt8], limit: Int,
                       buffer: inout [UInt8]) throws(SSHError) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                libssh2_channel_read_ex(channel, stream, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
            }
            guard n > 0 else { return n }
            guard n <= limit - output.count else {
                throw SSHError(.outputTooLarge, operation: "exec", host: peer,
                               message: "the command wrote more than \(limit) bytes to \(stream == 0 ? "stdout" : "stderr"); it was cut off")
            }
            output.append(contentsOf: buffer[0..<n])
        }
    }

    /// Frees a channel. After a clean close that is immediate. After a failure libssh2
    /// first waits for the peer's CLOSE, which sshd only sends once the command has ended;
    /// rather than wait for a hung command, the channel is then left to libssh2, which
    /// frees it with the session.
    private func release(_ channel: OpaquePointer) {
        _ = try? retrying("exec", .until(.now + .milliseconds(200))) { libssh2_channel_free(channel) }
    }

    private func exitStatus(_ channel: OpaquePointer, session: OpaquePointer) -> Int32 {
        var signal: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        libssh2_channel_get_exit_signal(channel, &signal, &signalLength, nil, nil, nil, nil)
        if let signal {
            let name = String(cString: signal)
            libssh2_free(session, signal)
            return 128 + (Self.signalNumbers[name] ?? 127)
        }
        return libssh2_channel_get_exit_status(channel)
    }

    /// Signal names as SSH sends them (RFC 4254 §6.10) and their Linux numbers.
    private static let signalNumbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    ]
}
