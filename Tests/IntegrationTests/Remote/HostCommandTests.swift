import Foundation
import Orchestrator
import Testing

/// `cvmctl host` against real sshd + libvirtd in the namespaced test bed.
@Suite(.serialized) struct HostCommandTests {
    @Test func addProbeListAndRemove() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let added = try cli.addTestBedHost("cloud-a", index: 0, extra: ["--zone", "par", "--trust", "public", "--cost", "0.5"])
        #expect(added.status == 0, "\(added.stderr)")
        let probe = try cli.run("host", "probe", "cloud-a")
        #expect(probe.status == 0, "\(probe.stderr)")
        #expect(probe.stdout.contains("hostname cvmh2"))
        #expect(probe.stdout.contains("libvirt 9."))
        let list = try cli.run("host", "list")
        #expect(list.stdout.contains("cloud-a"))
        #expect(list.stdout.contains("public"))
        #expect(try cli.run("host", "remove", "cloud-a").status == 0)
        #expect(!(try cli.run("host", "list").stdout.contains("cloud-a")))
    }

    @Test func trustOnFirstUseOnlyWhenAsked() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let h = try TestBedHosts.load().hosts[0]
        let refused = try cli.run("host", "add", "tofu", "--address", h.address, "--identity", h.identity)
        #expect(refused.status == 1)
        #expect(refused.errorLines.first?.contains("no host key given") == true)
        let accepted = try cli.run("host", "add", "tofu", "--address", h.address, "--identity", h.identity, "--accept-new-host-key")
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains(h.hostKey))
    }

    func expectRefusedAndNotAdded(_ out: CLIHarness.Output, _ text: String, cli: CLIHarness, name: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(out.status == 1, sourceLocation: sourceLocation)
        #expect(out.errorLines.count == 1, "\(out.stderr)", sourceLocation: sourceLocation)
        #expect(out.errorLines.first?.contains(text) == true, "\(out.stderr)", sourceLocation: sourceLocation)
        #expect(!(try cli.run("host", "list").stdout.contains(name)), sourceLocation: sourceLocation)
    }

    @Test func wrongHostKeyIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let hosts = try TestBedHosts.load().hosts
        // h3's key pinned for h2's address.
        let out = try cli.run("host", "add", "evil", "--address", hosts[0].address, "--identity", hosts[0].identity,
                              "--host-key", hosts[1].hostKey)
        try expectRefusedAndNotAdded(out, "does not match the pinned key", cli: cli, name: "evil")
    }

    @Test func unknownHostKeyIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("lost", index: 0).status == 0)
        // The pin is lost: the host's key is now unknown, and nothing is trusted silently.
        try "".write(toFile: cli.state + "/hosts/lost/known_hosts", atomically: true, encoding: .utf8)
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "u1", "--host", "lost")
        #expect(out.status == 1)
        #expect(out.errorLines.first?.contains("host key is not pinned") == true, "\(out.stderr)")
        #expect(try cli.remoteTraces(of: "u1") == [])
        #expect(try cli.traces(of: "u1") == [])
    }

    /// The pin changed after `host add` (another host's key): libvirt's own SSH connection
    /// refuses the host — nothing is deployed there — and the error says why.
    @Test func changedHostKeyIsRefusedOnLibvirtsConnectionToo() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let hosts = try TestBedHosts.load().hosts
        #expect(try cli.addTestBedHost("moved", index: 0).status == 0)
        try "\(hosts[0].address) \(hosts[1].hostKey)\n".write(toFile: cli.state + "/hosts/moved/known_hosts", atomically: true, encoding: .utf8)
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "k1", "--host", "moved")
        #expect(out.status == 1)
        #expect(out.errorLines.first?.contains("does not match the pinned key") == true, "\(out.stderr)")
        #expect(try cli.remoteTraces(of: "k1") == [])
        #expect(try cli.traces(of: "k1") == [])
    }

    @Test func unreachableHostIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let h = try TestBedHosts.load().hosts[0]
        // On the test bed's bridge, but nobody has this address.
        let out = try cli.run("host", "add", "ghost", "--address", "10.200.0.99", "--identity", h.identity, "--host-key", h.hostKey)
        try expectRefusedAndNotAdded(out, "unreachable", cli: cli, name: "ghost")
    }

    @Test func refusedAuthenticationIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let key = cli.state + "/other_ed25519"
        let keygen = Process()
        keygen.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        keygen.arguments = ["-q", "-t", "ed25519", "-N", "", "-f", key]
        try keygen.run()
        keygen.waitUntilExit()
        let h = try TestBedHosts.load().hosts[0]
        let out = try cli.run("host", "add", "stranger", "--address", h.address, "--identity", key, "--host-key", h.hostKey)
        try expectRefusedAndNotAdded(out, "authentication refused", cli: cli, name: "stranger")
    }

    @Test func badFlagsAndUnknownHosts() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let h = try TestBedHosts.load().hosts[0]
        let name = try cli.run("host", "add", "named", "--address", "cvmh2", "--identity", h.identity, "--host-key", h.hostKey)
        try expectRefusedAndNotAdded(name, "literal IPv4 or IPv6 address", cli: cli, name: "named")
        let deploy = try cli.run("deploy", "--image", "cvm-base", "--name", "n1", "--host", "nowhere")
        #expect(deploy.status == 1)
        #expect(deploy.errorLines.first?.contains("unknown host 'nowhere'") == true)
        #expect(try cli.traces(of: "n1") == [])
        let remove = try cli.run("host", "remove", "local")
        #expect(remove.status == 1)
    }
}
