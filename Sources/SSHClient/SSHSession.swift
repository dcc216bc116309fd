import CLibssh2
import Foundation

/// `libssh2_init` must run once per process before any other libssh2 call and is not
/// thread-safe itself; a global `let` is initialized exactly once (swift_once).
let libssh2Initialization: Int32 = libssh2_init(0)

/// The libssh2 library as a whole.
public enum SSHLibrary {
    /// Initialises libssh2 (and with it OpenSSL's global state) now, on this thread.
    ///
    /// A process that also opens SSH-tunnelled libvirt connections (`qemu+libssh2://`) must
    /// call this before the first one: libvirt's transport uses libssh2 from libvirt's own
    /// threads, and a lazy initialisation racing under them crashes. Idempotent.
    /// - Returns: false when libssh2 could not be initialised.
    @discardableResult
    public static func ensureInitialized() -> Bool { libssh2Initialization == 0 }
}

/// One SSH connection to one host, authenticated with a private key and verified against
/// a pinned known_hosts file — never by asking anyone.
///
/// All methods block the calling thread until done or until their limit passes; run them
/// off any event loop. Inside, libssh2 runs non-blocking and every wait is a `poll(2)`
/// on the socket, which is what gives each call a real deadline and lets `exec` read
/// stdout and stderr together.
///
/// Not `Sendable`: libssh2 sessions must not be used from two threads at once. Keep a
/// session in one isolation domain (or hand it over with `sending`); open one session
/// per concurrent task.
public final class SSHSession {
    /// Who to log in as, with which key, and which host keys to trust.
    public struct Configuration: Sendable {
        /// The remote user.
        public var user: String
        /// The private key file (OpenSSH format). Use ed25519: libssh2 1.10 signs RSA
        /// keys only with SHA-1, which OpenSSH >= 8.8 refuses.
        public var privateKeyPath: String
        /// The matching public key file; `nil` lets libssh2 derive it from the private key.
        public var publicKeyPath: String?
        /// The OpenSSH known_hosts file holding the pinned host keys.
        public var knownHostsPath: String
        /// Trust-on-first-use, only when the operator asked for it: a host with no entry
        /// is accepted and its key appended to `knownHostsPath`. A host pinned with a
        /// different key is still refused.
        public var acceptUnknownHostKey: Bool
        /// Once connected, the longest any single wait on the network may take (an SFTP
        /// request, a transfer that stops moving). `exec` has its own whole-call limit.
        public var ioTimeout: Duration

        public init(
            user: String, privateKeyPath: String, publicKeyPath: String? = nil,
            knownHostsPath: String, acceptUnknownHostKey: Bool = false,
            ioTimeout: Duration = .seconds(30)
        ) {
            self.user = user
            self.privateKeyPath = privateKeyPath
            self.publicKeyPath = publicKeyPath
            self.knownHostsPath = knownHostsPath
            self.acceptUnknownHostKey = acceptUnknownHostKey
            self.ioTimeout = ioTimeout
        }
    }

    public let configuration: Configuration
    /// `address:port` of the current or last connection (what the caller passed, before
    /// one was made), for error messages.
    public private(set) var peer: String = "-"

    /// LIBSSH2_SESSION*, owned; non-nil exactly while connected.
    var session: OpaquePointer?
    /// LIBSSH2_SFTP*, owned, opened on first SFTP use.
    var sftpSession: OpaquePointer?
    var socketDescriptor: Int32 = -1

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    deinit {
        teardown()
    }

    /// Whether `connect` succeeded and `disconnect` has not been called since. A broken
    /// connection shows as `.disconnected` errors until `disconnect` or `connect`.
    public var isConnected: Bool { session != nil }

    /// Connects to `host:port`, verifies the host key against the pinned known_hosts and
    /// authenticates with the configured key. `timeout` bounds the whole call.
    ///
    /// If the session is connected, it disconnects first.
    /// - Parameter host: a literal IPv4 or IPv6 address. Names are refused with
    ///   `.invalidAddress`; nothing is ever resolved through DNS.
    /// - Throws: `SSHError` with `.invalidAddress`, `.connectFailed`, `.timeout`,
    ///   `.handshakeFailed`, `.knownHostsUnreadable`, `.hostKeyUnknown`, `.hostKeyMismatch`,
    ///   `.identityUnreadable` or `.authenticationFailed`. The session is then not connected.
    public func connect(host: String, port: Int = 22, timeout: Duration = .seconds(10)) throws(SSHError) {
        teardown()
        peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let deadline = ContinuousClock.now + timeout
        guard libssh2Initialization == 0 else {
            throw SSHError(.handshakeFailed, operation: "connect", host: peer, message: "libssh2_init failed")
        }
        do {
            socketDescriptor = try TCPDialer.dial(host: host, port: port, deadline: deadline)
        } catch {
            switch error {
            case .invalidAddress(let why): throw SSHError(.invalidAddress, operation: "connect", host: peer, message: why)
            case .refused(let why): throw SSHError(.connectFailed, operation: "connect", host: peer, message: why)
            case .timedOut:
                throw SSHError(.timeout, operation: "connect", host: peer,
                               message: "no TCP connection within \(timeout)")
            }
        }
        do {
            try establish(host: host, port: port, deadline: deadline)
        } catch {
            teardown()
            throw error
        }
    }

    /// Ends the connection politely (bounded to ~2 s) and frees everything. Idempotent.
    public func disconnect() {
        teardown()
    }

    /// The server's host key fingerprint as OpenSSH prints it: `SHA256:` followed by the
    /// unpadded base64 of the key blob's SHA-256 (compare `ssh-keygen -lf`).
    public func hostKeyFingerprintSHA256() throws(SSHError) -> String {
        let session = try connectedSession("fingerprint")
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else {
            throw SSHError(.handshakeFailed, operation: "fingerprint", host: peer, message: libssh2LastError(session))
        }
        let digest = Data(bytes: hash, count: 32)
        return "SHA256:" + digest.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The session handle, or `.notConnected`.
    func connectedSession(_ operation: String) throws(SSHError) -> OpaquePointer {
        guard let session else {
            throw SSHError(.notConnected, operation: operation, host: peer, message: "session is not connected")
        }
        return session
    }

    // MARK: - Connect steps

    private func establish(host: String, port: Int, deadline: ContinuousClock.Instant) throws(SSHError) {
        guard let raw = libssh2_session_init_ex(nil, nil, nil, nil) else {
            throw SSHError(.handshakeFailed, operation: "connect", host: peer, message: "libssh2_session_init failed")
        }
        session = raw
        libssh2_session_set_blocking(raw, 0)

        let knownHosts: KnownHosts
        do {
            knownHosts = try KnownHosts(path: configuration.knownHostsPath,
                                        missingIsEmpty: configuration.acceptUnknownHostKey)
        } catch {
            throw SSHError(.knownHostsUnreadable, operation: "connect", host: peer, message: error.message)
        }
        // Ask only for the key types that are pinned, as OpenSSH does: otherwise libssh2
        // picks its own favourite (ECDSA first) and a host pinned by its ed25519 key
        // would look unknown.
        let pinnedTypes = knownHosts.keyTypes(host: host, port: port)
        if !pinnedTypes.isEmpty {
            let preference = pinnedTypes.flatMap(\.hostKeyAlgorithms).joined(separator: ",")
            _ = libssh2_session_method_pref(raw, LIBSSH2_METHOD_HOSTKEY, preference)
        }

        let limit = WaitLimit.until(deadline)
        let handshake = try retrying("connect", limit) { libssh2_session_handshake(raw, socketDescriptor) }
        guard handshake == 0 else {
            var message = libssh2LastError(raw)
            if !pinnedTypes.isEmpty {
                message += " (pinned key types: \(pinnedTypes.map(\.name).joined(separator: ", ")))"
            }
            throw failure(handshake, operation: "connect", default: .handshakeFailed, message: message)
        }
        try verifyHostKey(knownHosts, host: host, port: port)

        let rc = try retrying("authenticate", limit) {
            libssh2_userauth_publickey_fromfile_ex(
                raw, configuration.user, UInt32(configuration.user.utf8.count),
                configuration.publicKeyPath, configuration.privateKeyPath, nil)
        }
        guard rc == 0 else {
            let code: SSHError.Code = rc == LIBSSH2_ERROR_FILE ? .identityUnreadable : .authenticationFailed
            throw failure(rc, operation: "authenticate \(configuration.user)", default: code,
                          message: "\(libssh2LastError(raw)) (key \(configuration.privateKeyPath))")
        }
    }

    private func verifyHostKey(_ knownHosts: KnownHosts, host: String, port: Int) throws(SSHError) {
        guard let session else { return }
        var length = 0
        var rawType: Int32 = 0
        guard let blob = libssh2_session_hostkey(session, &length, &rawType), length > 0 else {
            throw SSHError(.handshakeFailed, operation: "host key", host: peer, message: libssh2LastError(session))
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: blob, count: length))
        guard let type = HostKeyType(sessionType: rawType) else {
            throw SSHError(.handshakeFailed, operation: "host key", host: peer,
                           message: "unsupported host key type \(rawType)")
        }
        let fingerprint = (try? hostKeyFingerprintSHA256()) ?? "?"
        let verdict: KnownHosts.Verdict
        do {
            verdict = try knownHosts.check(host: host, port: port, key: key, type: type)
        } catch {
            throw SSHError(.knownHostsUnreadable, operation: "host key", host: peer, message: error.message)
        }
        switch verdict {
        case .match:
            return
        case .mismatch:
            throw SSHError(.hostKeyMismatch, operation: "host key", host: peer,
                           message: "presented \(type.name) \(fingerprint), which is not the key pinned in \(knownHosts.path)")
        case .notFound:
            guard configuration.acceptUnknownHostKey else {
                throw SSHError(.hostKeyUnknown, operation: "host key", host: peer,
                               message: "no key pinned in \(knownHosts.path) (presented \(type.name) \(fingerprint))")
            }
            do {
                try KnownHosts.append(line: KnownHosts.line(host: host, port: port, type: type, key: key),
                                      to: knownHosts.path)
            } catch {
                throw SSHError(.knownHostsUnreadable, operation: "host key", host: peer, message: error.message)
            }
        }
    }

    /// Frees the SFTP session, the SSH session and the socket. libssh2 is switched to
    /// blocking mode with a short timeout so that the goodbye messages cannot hang, and
    /// the socket is shut down before the session is freed so that channels still
    /// waiting for their peer (a timed-out command) are freed at once.
    func teardown() {
        if let session {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, 2000)
            if let sftpSession { libssh2_sftp_shutdown(sftpSession) }
            libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "bye", "")
            shutdown(socketDescriptor, Int32(SHUT_RDWR))
            libssh2_session_free(session)
        }
        sftpSession = nil
        session = nil
        if socketDescriptor >= 0 {
            close(socketDescriptor)
            socketDescriptor = -1
        }
    }
}
