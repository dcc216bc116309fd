import CVMProtocol
import Foundation
import SSHClient

/// Live migration over TLS (`VIR_MIGRATE_TLS`): QEMU encrypts the guest's memory and disk,
/// and each side checks the other's certificate. The orchestrator keeps a CA of its own under
/// `<state>/pki` (made on first use with `openssl`), issues every host a certificate for its
/// migration address (an IP SAN; usable as server and as client), and installs CA,
/// certificate and key on the host in libvirt's default `migrate_tls_x509_cert_dir`,
/// `/etc/pki/qemu` — locally as files, remotely over the pinned SSH session (SFTP, then a
/// rename). A directory holding certificates the orchestrator did not put there is never
/// overwritten: the migration is refused with what to do.
package struct MigrationTLS: Sendable {
    let stateDirectory: String
    /// Where QEMU looks for them on each host (libvirt's default).
    static let hostDirectory = "/etc/pki/qemu"
    /// Left next to them on the host: the CA fingerprint of the orchestrator that installed them.
    static let marker = ".cvmctl-ca"

    var pkiDirectory: String { (stateDirectory as NSString).appendingPathComponent("pki") }
    var caKey: String { pkiDirectory + "/ca-key.pem" }
    var caCert: String { pkiDirectory + "/ca-cert.pem" }

    package struct Credentials: Sendable {
        package let caCert: String
        package let cert: String
        package let key: String
    }

    /// The files a host gets, by name in `hostDirectory`, with their mode.
    static func files(_ credentials: Credentials) -> [(name: String, local: String, mode: Int32)] {
        [("ca-cert.pem", credentials.caCert, 0o644),
         ("server-cert.pem", credentials.cert, 0o644), ("server-key.pem", credentials.key, 0o600),
         ("client-cert.pem", credentials.cert, 0o644), ("client-key.pem", credentials.key, 0o600)]
    }

    // MARK: The orchestrator's CA and the hosts' certificates

    /// Makes the CA once (EC P-256, 10 years), key 0600 in a 0700 folder. Two deployments
    /// started together (elastic mode deploys tasks in parallel; two commands may too) make it
    /// under one lock: otherwise each writes its own key and certificate, and the CA left is one
    /// process's key with the other's certificate, which signs nothing ever again.
    func ensureCA() throws {
        try FileManager.default.createDirectory(atPath: pkiDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard !FileManager.default.fileExists(atPath: caCert) else { return }
        try locked {
            guard !FileManager.default.fileExists(atPath: caCert) else { return }
            try makeCA()
        }
    }

    /// Runs `body` holding `<pki>/.lock` (see `FileLock`). Never nested.
    private func locked<T>(_ body: () throws -> T) throws -> T {
        do {
            return try FileLock.withExclusive(pkiDirectory + "/.lock", body)
        } catch let failure as FileLock.Failure {
            throw OrchestratorError.invalidArgument(failure.description)
        }
    }

    private func makeCA() throws {
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", caKey + ".new", "-out", caCert + ".new", "-days", "3650",
                          "-subj", "/CN=cvmctl migration CA",
                          "-addext", "basicConstraints=critical,CA:TRUE",
                          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        chmod(caKey + ".new", 0o600)
        try Self.rename(caKey + ".new", caKey)
        try Self.rename(caCert + ".new", caCert)
    }

    /// The certificate of host `name` for `addresses` (issued once; again when the addresses
    /// changed), signed by the CA.
    func credentials(host name: String, addresses: [String], group: String = "hosts") throws -> Credentials {
        try ensureCA()
        let directory = pkiDirectory + "/" + group + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let key = directory + "/key.pem", cert = directory + "/cert.pem", sanFile = directory + "/san"
        let san = addresses.map { "IP:\($0)" }.joined(separator: ",")
        func issued() -> Bool {
            (try? String(contentsOfFile: sanFile, encoding: .utf8)) == san
                && FileManager.default.fileExists(atPath: cert) && FileManager.default.fileExists(atPath: key)
        }
        if !issued() { try locked {
            guard !issued() else { return }
            let extensions = directory + "/ext.cnf"
            try """
            subjectAltName=\(san)
            basicConstraints=critical,CA:FALSE
            keyUsage=critical,digitalSignature,keyEncipherment
            extendedKeyUsage=serverAuth,clientAuth

            """.write(toFile: extensions, atomically: true, encoding: .utf8)
            try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                              "-keyout", key + ".new", "-out", directory + "/req.csr", "-subj", "/CN=\(name)"])
            chmod(key + ".new", 0o600)
            try Self.openssl(["x509", "-req", "-in", directory + "/req.csr", "-CA", caCert, "-CAkey", caKey,
                              "-set_serial", "0x" + Self.randomHex(), "-days", "825",
                              "-extfile", extensions, "-out", cert + ".new"])
            try Self.rename(key + ".new", key)
            try Self.rename(cert + ".new", cert)
            try san.write(toFile: sanFile, atomically: true, encoding: .utf8)
        } }
        return Credentials(caCert: caCert, cert: cert, key: key)
    }

    /// The SHA-256 of the CA certificate: what a host's marker holds.
    package func caFingerprint() throws -> String {
        try FileDigest.sha256(path: caCert).hex
    }

    // MARK: Installing on a host

    /// Installs the credentials in `/etc/pki/qemu` of the local host unless they are there.
    func installLocally(_ credentials: Credentials, hostName: String, directory: String = Self.hostDirectory) throws {
        let fingerprint = try caFingerprint()
        let markerPath = directory + "/" + Self.marker
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let marker = (try? String(contentsOfFile: markerPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let foreign = (try? FileManager.default.contentsOfDirectory(atPath: directory))?.contains { $0.hasSuffix(".pem") } == true
            && marker == nil
        if foreign { throw Self.foreignCertificates(host: hostName) }
        if marker == fingerprint, try Self.filesMatch(credentials, readInstalled: { try? Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }) {
            return
        }
        // The marker first: a process killed between the files leaves them marked as ours
        // (and rewritten next time, their checksums being wrong), never as someone else's.
        try (fingerprint + "\n").write(toFile: markerPath, atomically: true, encoding: .utf8)
        for file in Self.files(credentials) {
            let target = directory + "/" + file.name
            try? FileManager.default.removeItem(atPath: target + ".new")
            try FileManager.default.copyItem(atPath: file.local, toPath: target + ".new")
            chmod(target + ".new", mode_t(file.mode))
            try Self.rename(target + ".new", target)
        }
    }

    /// Installs the credentials in `/etc/pki/qemu` of a remote host over SSH unless they are there.
    func installRemotely(_ credentials: Credentials, host: HostRecord, knownHosts: String) throws {
        let fingerprint = try caFingerprint()
        let ssh = try RemoteAccess(host: host, knownHosts: knownHosts).session()
        defer { ssh.disconnect() }
        let directory = Self.hostDirectory
        do {
            let marker = try ssh.exec("cat \(SSHSession.shellQuoted(directory + "/" + Self.marker)) 2>/dev/null")
            let markerText = String(decoding: marker.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let pems = try ssh.exec("ls \(SSHSession.shellQuoted(directory)) 2>/dev/null | grep -c '\\.pem$'")
            let hasPems = (Int(String(decoding: pems.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0
            if hasPems && marker.exitStatus != 0 { throw Self.foreignCertificates(host: host.name) }
            if markerText == fingerprint {
                let sums = try ssh.exec("cd \(SSHSession.shellQuoted(directory)) && sha256sum " + Self.files(credentials).map { SSHSession.shellQuoted($0.name) }.joined(separator: " "))
                let installed = Dictionary(String(decoding: sums.stdout, as: UTF8.self).split(separator: "\n").compactMap { line -> (String, String)? in
                    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                    return parts.count == 2 ? (String(parts[1]), String(parts[0])) : nil
                }, uniquingKeysWith: { a, _ in a })
                let wanted = try Self.files(credentials).map { ($0.name, try FileDigest.sha256(path: $0.local).hex) }
                if sums.exitStatus == 0, wanted.allSatisfy({ installed[$0.0] == $0.1 }) { return }
            }
            try ssh.makeDirectory(directory, mode: 0o755)
            let written = try ssh.exec("printf '%s\\n' \(SSHSession.shellQuoted(fingerprint)) > \(SSHSession.shellQuoted(directory + "/" + Self.marker))")
            guard written.exitStatus == 0 else {
                throw OrchestratorError.hostRefused(host: host.name, reason: "cannot write \(directory)/\(Self.marker)")
            }
            for file in Self.files(credentials) {
                let target = directory + "/" + file.name
                try ssh.upload(localPath: file.local, remotePath: target + ".new", mode: file.mode)
                let moved = try ssh.exec("chmod \(String(file.mode, radix: 8)) \(SSHSession.shellQuoted(target + ".new")) && mv -f \(SSHSession.shellQuoted(target + ".new")) \(SSHSession.shellQuoted(target))")
                guard moved.exitStatus == 0 else {
                    throw OrchestratorError.hostRefused(host: host.name, reason: "cannot install \(target): \(String(decoding: moved.stderr, as: UTF8.self))")
                }
            }
        } catch let error as SSHError {
            throw RemoteAccess.operatorError(error, host: host)
        }
    }

    // MARK: Helpers

    static func foreignCertificates(host: String) -> OrchestratorError {
        .hostRefused(host: host, reason: "\(hostDirectory) holds certificates this orchestrator did not install; migrations are encrypted with its own CA: move them away (or point libvirt's migrate_tls_x509_cert_dir elsewhere for them)")
    }

    private static func filesMatch(_ credentials: Credentials, readInstalled: (String) throws -> Data?) throws -> Bool {
        for file in files(credentials) {
            guard let installed = try readInstalled(file.name),
                  installed == (try Data(contentsOf: URL(fileURLWithPath: file.local))) else { return false }
        }
        return true
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw OrchestratorError.invalidArgument("cannot run /usr/bin/openssl (install the openssl package): \(error)")
        }
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            // OpenSSL 3 reports progress on stderr too ("Certificate request self-signature ok"):
            // the reason is what is left.
            let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
                .filter { !$0.hasSuffix(" ok") && !$0.hasPrefix("subject=") && !$0.allSatisfy { $0 == "-" } }
            let reason = lines.isEmpty ? "exit \(process.terminationStatus)" : lines.prefix(3).joined(separator: "; ")
            throw OrchestratorError.invalidArgument("openssl \(arguments.first ?? "") failed: \(reason)")
        }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw OrchestratorError.invalidArgument("cannot write \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// A 128-bit certificate serial number.
    static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
