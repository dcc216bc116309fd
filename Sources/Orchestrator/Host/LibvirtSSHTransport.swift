import Foundation

/// How libvirt reaches a remote host: `qemu+ssh://`, that is OpenSSH's client run by libvirt,
/// through a small wrapper kept next to the host's pinned known_hosts file. The wrapper makes
/// OpenSSH check the host key against that file only (an unknown or changed key is refused,
/// never asked about), log in by key only, and give up on a link silent for about 6 s.
///
/// Not `qemu+libssh2://`: with it, libvirt 9.0's RPC client can leave a socket watch pointing
/// at a finished call's stack when libssh2 had already buffered the reply, and a later call
/// on that connection then crashes the process (`virNetClientIOEventFD`). The chaos test that
/// pulls a host's cable hit it in most runs; an OpenSSH pipe buffers nothing on libvirt's side.
enum LibvirtSSHTransport {
    /// The wrapper's path for the host whose pinned known_hosts file is `knownHosts`.
    static func wrapperPath(knownHosts: String) -> String {
        ((knownHosts as NSString).deletingLastPathComponent as NSString).appendingPathComponent("ssh")
    }

    static func uri(user: String, address: String, identity: String, wrapper: String) -> String {
        let host = address.contains(":") ? "[\(address)]" : address
        return "qemu+ssh://\(escape(user))@\(host)/system?keyfile=\(escape(identity))&command=\(escape(wrapper))&no_tty=1"
    }

    /// The URI of a remote host, its wrapper written (or rewritten, when the state directory
    /// moved or an older version made it) first.
    static func prepare(_ host: HostRecord, knownHosts: String) throws -> String {
        guard let address = host.address, let user = host.user, let identity = host.identity else {
            throw OrchestratorError.invalidArgument("host '\(host.name)' has no address, user or identity in the store; remove it and add it again")
        }
        let wrapper = wrapperPath(knownHosts: knownHosts)
        try writeWrapper(at: wrapper, knownHosts: knownHosts)
        return uri(user: user, address: address, identity: identity, wrapper: wrapper)
    }

    /// Writes the wrapper (mode 0700) unless it already says exactly that.
    static func writeWrapper(at path: String, knownHosts: String) throws {
        let text = script(knownHosts: knownHosts)
        if (try? String(contentsOfFile: path, encoding: .utf8)) == text,
           let mode = try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, mode == 0o700 {
            return
        }
        let temporary = path + ".new"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o700]) else {
            throw OrchestratorError.invalidArgument("cannot write \(temporary): check that the state directory is writable")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw OrchestratorError.invalidArgument("cannot write \(path): \(reason)")
        }
    }

    /// OpenSSH's client with our options first (for each option the first value given wins,
    /// so libvirt's own arguments cannot loosen them).
    static func script(knownHosts: String) -> String {
        let options = [
            "-F", "/dev/null",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=\(knownHosts)",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "CheckHostIP=no",
            "-o", "UpdateHostKeys=no",
            "-o", "IdentitiesOnly=yes",
            "-o", "PreferredAuthentications=publickey",
            "-o", "PasswordAuthentication=no",
            "-o", "KbdInteractiveAuthentication=no",
            "-o", "ConnectTimeout=5",
            "-o", "ServerAliveInterval=2",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
        ]
        return "#!/bin/sh\n# Written by cvmctl: how libvirt reaches this host (see `cvmctl host add`).\nexec /usr/bin/ssh \(options.map(shellQuote).joined(separator: " ")) \"$@\"\n"
    }

    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    private static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "/-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
