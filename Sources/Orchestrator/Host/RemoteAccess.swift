import SSHClient
import CVMProtocol
import Foundation

/// SSH to a remote host with the orchestrator's pinned key and identity: preflight checks
/// that turn SSH faults into precise operator errors, and content-addressed image staging.
struct RemoteAccess {
    let host: HostRecord
    let knownHosts: String

    /// A connected, authenticated session. Every SSH fault becomes one operator error.
    func session(acceptNewHostKey: Bool = false, timeout: Duration = .seconds(10)) throws -> SSHSession {
        guard let address = host.address, let user = host.user, let identity = host.identity else {
            throw OrchestratorError.invalidArgument("host '\(host.name)' is not a remote host")
        }
        let ssh = SSHSession(.init(user: user, privateKeyPath: identity, knownHostsPath: knownHosts,
                                   acceptUnknownHostKey: acceptNewHostKey, ioTimeout: .seconds(60)))
        do {
            try ssh.connect(host: address, port: 22, timeout: timeout)
        } catch {
            throw Self.operatorError(error, host: host)
        }
        return ssh
    }

    static func operatorError(_ error: SSHError, host: HostRecord) -> OrchestratorError {
        let address = host.address ?? "?"
        switch error.code {
        case .hostKeyMismatch:
            return .hostRefused(host: host.name, reason: "its SSH host key does not match the pinned key (\(address)); if the host was reinstalled, remove it and add it again with its new key")
        case .hostKeyUnknown:
            return .hostRefused(host: host.name, reason: "its SSH host key is not pinned (\(address)); pass the key with --host-key, or --accept-new-host-key to trust it")
        case .authenticationFailed:
            return .hostRefused(host: host.name, reason: "SSH authentication refused for \(host.user ?? "?")@\(address) with \(host.identity ?? "?")")
        case .connectFailed, .timeout, .handshakeFailed, .disconnected:
            return .hostUnreachable(host: host.name, reason: "\(address): \(error.message)")
        default:
            return .hostUnreachable(host: host.name, reason: error.description)
        }
    }

    /// Copies an artifact into `<dataDir>/images/<sha256>` on the host unless a file with
    /// that checksum is there already (`sha256sum` on the host: a file of the right name and
    /// size may still be corrupt, and is then replaced); checks the copy's checksum on the
    /// host. A copy that does not match is uploaded once more from scratch (a resumed upload
    /// trusts the bytes of an earlier part file) before giving up.
    func stage(artifact path: String, sha256: String, progress: (Int64, Int64) -> Void) throws -> String {
        let directory = (host.dataDir as NSString).appendingPathComponent("images")
        let target = (directory as NSString).appendingPathComponent(sha256)
        let ssh = try session()
        defer { ssh.disconnect() }
        do {
            if try remoteSHA256(ssh, target) == sha256 { return target }
            try ssh.makeDirectory(directory)
            for _ in 1...2 {
                try ssh.upload(localPath: path, remotePath: target, mode: 0o644) { done, total in
                    progress(Int64(done), Int64(total))
                    return true
                }
                if try remoteSHA256(ssh, target) == sha256 { return target }
                _ = try? ssh.removeFile(target)
                _ = try? ssh.removeFile(target + ".part")
            }
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "uploaded \(path) twice but its sha256 on the host differs; check the host's disk")
        } catch let error as SSHError {
            throw Self.operatorError(error, host: host)
        }
    }

    /// True when `<dataDir>/images/<sha256>` on the host hashes to `sha256` there.
    func hasCached(sha256: String) throws -> Bool {
        let target = ((host.dataDir as NSString).appendingPathComponent("images") as NSString).appendingPathComponent(sha256)
        let ssh = try session()
        defer { ssh.disconnect() }
        do {
            return try remoteSHA256(ssh, target) == sha256
        } catch let error as SSHError {
            throw Self.operatorError(error, host: host)
        }
    }

    private func remoteSHA256(_ ssh: SSHSession, _ path: String) throws -> String? {
        let result = try ssh.exec("sha256sum \(SSHSession.shellQuoted(path)) 2>/dev/null")
        guard result.exitStatus == 0 else { return nil }
        return String(decoding: result.stdout, as: UTF8.self).split(separator: " ").first.map(String.init)
    }
}
