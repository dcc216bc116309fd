import Foundation
import SSHClient

/// Runs a short POSIX shell script as the host's administrator: `/bin/sh -c` on this
/// machine, or over the host's pinned SSH session on a cloud host. Used for what libvirt has
/// no API for (the CVM segment's bridge, tunnels and firewall). Output is bounded by the
/// SSH client (16 MiB) and is expected to be a few lines.
struct HostShell {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The last non-empty line of stderr, or the exit status.
        var problem: String {
            stderr.split(separator: "\n").last(where: { !$0.allSatisfy(\.isWhitespace) }).map(String.init)
                ?? "exit status \(status)"
        }
    }

    let host: HostRecord
    let knownHosts: String

    func run(_ script: String, timeout: Duration = .seconds(60)) throws -> Output {
        guard host.isLocal else {
            let ssh = try RemoteAccess(host: host, knownHosts: knownHosts).session()
            defer { ssh.disconnect() }
            do {
                let result = try ssh.exec("/bin/sh -c " + SSHSession.shellQuoted(script), timeout: timeout)
                return Output(status: result.exitStatus, stdout: String(decoding: result.stdout, as: UTF8.self),
                              stderr: String(decoding: result.stderr, as: UTF8.self))
            } catch {
                throw RemoteAccess.operatorError(error, host: host)
            }
        }
        return try Self.runLocally(script)
    }

    static func runLocally(_ script: String) throws -> Output {
        let result = try LocalProcess.run("/bin/sh", ["-c", script])
        return Output(status: result.status, stdout: String(decoding: result.stdout, as: UTF8.self),
                      stderr: String(decoding: result.stderr, as: UTF8.self))
    }
}
