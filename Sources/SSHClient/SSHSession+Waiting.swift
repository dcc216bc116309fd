import CLibssh2
import Foundation

/// How long one libssh2 call may wait for its socket.
enum WaitLimit {
    /// Until a fixed instant: a whole-call deadline (connect, exec).
    case until(ContinuousClock.Instant)
    /// This long at every single wait: a stall timeout, reset by any progress (transfers).
    case stall(Duration)

    var description: String {
        switch self {
        case .until: "before the deadline"
        case .stall(let duration): "for \(duration)"
        }
    }
}

extension SSHSession {
    /// Runs a non-blocking libssh2 call until it stops answering `LIBSSH2_ERROR_EAGAIN`,
    /// polling the socket in between. Returns the call's final result.
    func retrying<R: BinaryInteger>(_ operation: String, _ limit: WaitLimit, _ call: () -> R) throws(SSHError) -> R {
        while true {
            let rc = call()
            guard rc == R(LIBSSH2_ERROR_EAGAIN) else { return rc }
            try waitForSocket(operation, limit)
        }
    }

    /// Like `retrying`, for calls that return a handle and report EAGAIN through
    /// `libssh2_session_last_errno` (channel open, SFTP init and open). Returns nil on
    /// a real failure, with the reason in the session's last error.
    func retryingHandle(_ operation: String, _ limit: WaitLimit, _ call: () -> OpaquePointer?) throws(SSHError) -> OpaquePointer? {
        while true {
            if let handle = call() { return handle }
            let session = try connectedSession(operation)
            guard libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return nil }
            try waitForSocket(operation, limit)
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on.
    func waitForSocket(_ operation: String, _ limit: WaitLimit) throws(SSHError) {
        let session = try connectedSession(operation)
        let deadline = switch limit {
        case .until(let instant): instant
        case .stall(let duration): ContinuousClock.now + duration
        }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        var pfd = pollfd(fd: socketDescriptor, events: events, revents: 0)
        while true {
            let wait = pollMilliseconds(until: deadline)
            guard wait > 0 else {
                throw SSHError(.timeout, operation: operation, host: peer,
                               message: "no answer from the peer \(limit.description)")
            }
            // EAGAIN without a direction: libssh2 has internal work left; just call again soon.
            if events == 0 {
                usleep(1000)
                return
            }
            let n = poll(&pfd, 1, wait)
            if n > 0 { return }
            if n < 0, errno != EINTR {
                throw SSHError(.disconnected, operation: operation, host: peer, message: "poll: \(systemErrorText())")
            }
        }
    }

    /// An `SSHError` for a libssh2 return code: timeouts and socket failures get their own
    /// codes, anything else `code`. The message is libssh2's last error unless given.
    func failure(_ rc: Int32, operation: String, default code: SSHError.Code, message: String? = nil) -> SSHError {
        let mapped: SSHError.Code = switch rc {
        case LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_SOCKET_TIMEOUT: .timeout
        case LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND: .disconnected
        default: code
        }
        let text = message ?? session.map(libssh2LastError) ?? "session is closed"
        return SSHError(mapped, operation: operation, host: peer, message: text, libssh2Code: rc)
    }
}
