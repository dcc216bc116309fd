/// A failed SSH operation: what went wrong (`code`, to match on), where (`host`), during
/// which step (`operation`), and the explanation from libssh2 or the system (`message`).
///
/// Contract: an `SSHError` never contains key material, passphrases or file contents —
/// only addresses, paths, key types, public fingerprints and library messages.
public struct SSHError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. Callers decide on this, never on `message`.
    public enum Code: String, Sendable, Hashable, CustomStringConvertible {
        /// The host is not a literal IP address (names are refused: no DNS), or the port
        /// is outside 1...65535.
        case invalidAddress
        /// The TCP connection was refused or the address is unreachable.
        case connectFailed
        /// A deadline passed (connect, command, or a stalled transfer).
        case timeout
        /// The SSH protocol negotiation failed (no common algorithm, garbage from the peer).
        case handshakeFailed
        /// The host presented a key that differs from the one pinned for it.
        case hostKeyMismatch
        /// The host has no pinned key, and trusting a new one was not allowed.
        case hostKeyUnknown
        /// The known_hosts file could not be read or appended to.
        case knownHostsUnreadable
        /// The private key file could not be read or parsed.
        case identityUnreadable
        /// The server refused the key.
        case authenticationFailed
        /// The operation needs a connected session.
        case notConnected
        /// The connection broke while in use.
        case disconnected
        /// Opening or using a channel (remote command) failed.
        case channel
        /// A remote command wrote more to stdout or stderr than the caller accepts.
        case outputTooLarge
        /// An SFTP request failed; `sftpStatus` carries the SSH_FX_* status when known.
        case sftp
        /// A local file could not be read.
        case localFile
        /// The caller stopped the operation (an upload's progress callback returned false).
        case cancelled

        public var description: String { rawValue }
    }

    public var code: Code
    /// The step that failed, e.g. `"connect"`, `"exec"`, `"upload /var/lib/cvm/x.qcow2"`.
    public var operation: String
    /// `address:port` of the peer (or what the caller passed, if it was not an address).
    public var host: String
    /// One line from libssh2 (`libssh2_session_last_error`) or the system (`strerror`).
    public var message: String
    /// The `LIBSSH2_ERROR_*` value, when libssh2 reported the failure.
    public var libssh2Code: Int32?
    /// The SFTP status (`LIBSSH2_FX_*`), when the server reported one.
    public var sftpStatus: UInt?

    public init(
        _ code: Code, operation: String, host: String, message: String,
        libssh2Code: Int32? = nil, sftpStatus: UInt? = nil
    ) {
        self.code = code
        self.operation = operation
        self.host = host
        self.message = message
        self.libssh2Code = libssh2Code
        self.sftpStatus = sftpStatus
    }

    /// One line: `ssh <operation> <host>: <code>: <message>`.
    public var description: String {
        let oneLine = message.split(whereSeparator: \.isNewline).joined(separator: " ")
        return "ssh \(operation) \(host): \(code): \(oneLine)"
    }
}
