@testable import Orchestrator
import Foundation
import Testing

/// The OpenSSH wrapper libvirt runs for a remote host: what it passes, how it quotes, how it
/// is written. (That a wrong or unknown key is refused through it is an integration test.)
@Suite struct LibvirtSSHTransportTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "ssh-transport-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// What `/bin/sh` makes of the wrapper's arguments: each quoted word comes back intact.
    private func shellWords(_ quoted: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "printf '%s' \(quoted)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test(arguments: ["/var/lib/cvm/hosts/c2/known_hosts", "/tmp/it's here/known_hosts", "/tmp/$(reboot)/`id`/\"q\""])
    func quotingSurvivesTheShell(path: String) throws {
        #expect(try shellWords(LibvirtSSHTransport.shellQuote(path)) == path)
    }

    @Test func theScriptPinsTheKeyAndAllowsKeysOnly() {
        let script = LibvirtSSHTransport.script(knownHosts: "/s/hosts/c2/known_hosts")
        #expect(script.hasPrefix("#!/bin/sh\n"))
        for option in ["StrictHostKeyChecking=yes", "UserKnownHostsFile=/s/hosts/c2/known_hosts", "GlobalKnownHostsFile=/dev/null",
                       "BatchMode=yes", "PasswordAuthentication=no", "PreferredAuthentications=publickey", "IdentitiesOnly=yes"] {
            #expect(script.contains("'\(option)'"), "missing \(option)")
        }
        // Our options come before libvirt's arguments (for each option, the first value wins).
        let exec = script.split(separator: "\n").last { $0.hasPrefix("exec ") }
        #expect(exec?.hasSuffix("\"$@\"") == true)
        #expect(exec?.hasPrefix("exec /usr/bin/ssh '-F' '/dev/null'") == true)
    }

    @Test func theURIEscapesWhatLibvirtWouldSplit() {
        let uri = LibvirtSSHTransport.uri(user: "root", address: "10.200.0.2", identity: "/keys/my key&x=1",
                                          wrapper: "/s/hosts/c2/ssh")
        #expect(uri == "qemu+ssh://root@10.200.0.2/system?keyfile=/keys/my%20key%26x%3D1&command=/s/hosts/c2/ssh&no_tty=1")
        #expect(LibvirtSSHTransport.uri(user: "root", address: "fd00::2", identity: "/k", wrapper: "/w").hasPrefix("qemu+ssh://root@[fd00::2]/system?"))
    }

    @Test func theWrapperIsWrittenPrivateAndRewrittenWhenItDiffers() throws {
        let knownHosts = directory + "/known_hosts"
        let path = LibvirtSSHTransport.wrapperPath(knownHosts: knownHosts)
        #expect(path == directory + "/ssh")
        try LibvirtSSHTransport.writeWrapper(at: path, knownHosts: knownHosts)
        func mode() throws -> Int { try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) }
        #expect(try mode() == 0o700)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == LibvirtSSHTransport.script(knownHosts: knownHosts))

        // Tampered with (or left by an older version, or made world-readable): rewritten.
        try "#!/bin/sh\nexec /usr/bin/ssh -o StrictHostKeyChecking=no \"$@\"\n".write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, 0o755)
        try LibvirtSSHTransport.writeWrapper(at: path, knownHosts: knownHosts)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == LibvirtSSHTransport.script(knownHosts: knownHosts))
        #expect(try mode() == 0o700)
        #expect(!FileManager.default.fileExists(atPath: path + ".new"))
    }

    @Test func aRemoteRecordWithoutItsSSHFieldsIsOneClearError() throws {
        var host = ElasticTestRecords.host("c9")
        host.identity = nil
        #expect(throws: OrchestratorError.self) { try LibvirtSSHTransport.prepare(host, knownHosts: directory + "/known_hosts") }
        do {
            _ = try LibvirtSSHTransport.prepare(host, knownHosts: directory + "/known_hosts")
        } catch {
            #expect("\(error)".contains("remove it and add it again"))
        }
    }
}
