import CVMProtocol
import Foundation
import Libvirt
import Orchestrator
import Testing

/// The CVM segment on real hosts: the test bed's namespaced cloud hosts, real libvirtd, real
/// guests whose agent brings up its NIC. The machine running cvmctl (the hub) pings CVMs on
/// every host through the VXLAN tunnels, and keeps reaching a CVM while it moves.
@Suite(.serialized) struct CVMNetworkTests {
    /// `bash -c script`, stdout and stderr together.
    static func sh(_ script: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", script]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func answers(_ address: String, count: Int = 3) throws -> Bool {
        try sh("ping -c \(count) -W 1 -i 0.2 \(address)").status == 0
    }

    func address(_ cli: CLIHarness, _ name: String) throws -> String? {
        try cli.status().cvms.first { $0.name == name }?.address
    }

    @Test func cvmsOnEveryHostAnswerTheHubAndKeepTheirAddressAcrossMigrations() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        // Both cloud hosts joined the segment when they were added: a tunnel each way, a
        // bridge and the isolation rules on each.
        for (name, ns) in [("c2", "cvmh2"), ("c3", "cvmh3")] {
            let device = CVMNetworkDefinition.tunnelDevice(vni: CVMNetworkDefinition.vni(for: "10.200.0.\(ns.suffix(1))"))
            #expect(try Self.sh("ip -d link show dev \(device)").output.contains("remote 10.200.0.\(ns.suffix(1)) "))
            let there = try Self.sh("ip netns exec \(ns) ip -d link show dev \(device); ip netns exec \(ns) nft list table inet cvmctl")
            #expect(there.output.contains("remote 10.200.0.1 ") && there.output.contains("master cvmnet0"), "\(there.output)")
            #expect(there.output.contains("iifname \"cvmnet0\""), "\(there.output)")
        }
        #expect(try Self.sh("ip -4 addr show dev cvmnet0").output.contains("inet 10.77.0.1/24"))

        for (name, host) in [("near", "local"), ("far", "c2"), ("farther", "c3")] {
            let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", name, "--host", host)
            #expect(deployed.status == 0, "\(deployed.stderr)")
        }
        let addresses = try ["near", "far", "farther"].map { try #require(try address(cli, $0)) }
        #expect(Set(addresses).count == 3 && addresses.allSatisfy { $0.hasPrefix("10.77.0.") }, "\(addresses)")
        for (name, address) in zip(["near", "far", "farther"], addresses) {
            #expect(try Self.answers(address), "\(name) at \(address) does not answer")
        }

        // One CVM moves local -> c2 -> c3 -> local under a ping every 50 ms: it answers at its
        // address after every move, and the switch-overs lose only a handful of packets.
        let mover = addresses[0]
        let log = cli.state + "/ping.log"
        let pinger = Process()
        pinger.executableURL = URL(fileURLWithPath: "/bin/bash")
        pinger.arguments = ["-c", "exec ping -i 0.05 -W 1 \(mover) > \(log) 2>&1"]
        try pinger.run()
        defer { if pinger.isRunning { kill(pinger.processIdentifier, SIGKILL) } }
        Thread.sleep(forTimeInterval: 1)
        for destination in ["c2", "c3", "local"] {
            let moved = try cli.run("migrate", "near", "--to", destination)
            #expect(moved.status == 0, "\(moved.stderr)")
            #expect(try address(cli, "near") == mover, "the address stays with the CVM")
            #expect(try eventually(timeout: 5) { try Self.answers(mover, count: 1) }, "no answer from \(mover) on \(destination)")
        }
        kill(pinger.processIdentifier, SIGINT)
        pinger.waitUntilExit()
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let sequences = Set(text.split(separator: "\n").compactMap { line -> Int? in
            guard let r = line.range(of: "icmp_seq=") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        })
        let sent = sequences.max() ?? 0
        let lost = sent - sequences.count
        print("CVMNetworkTests: \(sent) pings at 50 ms through three migrations, \(lost) lost")
        #expect(sent > 60 && lost <= 30, "\(lost) of \(sent) pings lost")
    }

    func probe(_ cli: CLIHarness, _ cvm: String, _ target: String, via: String = "link") throws -> String {
        let out = try cli.run("probe", cvm, target, "--via", via, "--json")
        let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: String]
        return json?["result"] ?? "cvmctl failed: \(out.stderr)"
    }

    /// From inside guests (the agent's probe adds a host route to the target, as a hostile
    /// guest could): other CVMs answer across the tunnel, the hosts' own stacks do not.
    @Test func aGuestReachesOtherCVMsButNoHost() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        for (name, host) in [("inside", "local"), ("outside", "c2")] {
            let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", name, "--host", host)
            #expect(deployed.status == 0, "\(deployed.stderr)")
        }
        let inside = try #require(try address(cli, "inside"))
        // The segment is open between CVMs: the other guest's kernel answers a closed port.
        #expect(try probe(cli, "outside", "\(inside):9") == "refused")
        // The hub (the traffic manager's machine): its segment address and its management
        // address on the link, and a cloud host's sshd through it as a gateway.
        #expect(try probe(cli, "inside", "10.77.0.1:22") == "timeout")
        #expect(try probe(cli, "inside", "10.200.0.1:22") == "timeout")
        #expect(try probe(cli, "inside", "10.200.0.2:22", via: "gateway") == "timeout")
        // A cloud host's own sshd from a guest on it.
        #expect(try probe(cli, "outside", "10.200.0.2:22") == "timeout")
        #expect(try probe(cli, "outside", "10.200.0.1:22", via: "gateway") == "timeout")

        // Control: without the hub's rules the same probe reaches the hub's stack (a reset
        // from its closed port 22), so the timeouts above are the firewall's doing.
        let saved = try Self.sh("nft list table inet cvmctl")
        try #require(saved.status == 0)
        try #require(try Self.sh("nft delete table inet cvmctl").status == 0)
        let open = try probe(cli, "inside", "10.200.0.1:22")
        let restored = try Self.sh("nft -f - <<'EOF'\n\(saved.output)EOF")
        #expect(open == "refused", "without the firewall the guest should reach the hub's stack")
        #expect(restored.status == 0, "\(restored.output)")
        #expect(try probe(cli, "inside", "10.200.0.1:22") == "timeout")
    }

    @Test func removingAHostTakesItsPartOfTheSegmentAway() throws {
        var cli = try CLIHarness()
        cli.environment["CVM_MIGRATION_ADDRESS"] = "10.200.0.1"
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("c2", index: 0).status == 0)
        let device = CVMNetworkDefinition.tunnelDevice(vni: CVMNetworkDefinition.vni(for: "10.200.0.2"))
        #expect(try Self.sh("ip link show dev \(device)").status == 0)
        let removed = try cli.run("host", "remove", "c2")
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(try Self.sh("ip link show dev \(device)").status != 0, "the hub's tunnel to c2 is left")
        let there = try Self.sh("ip netns exec cvmh2 ip link show dev cvmnet0 || ip netns exec cvmh2 nft list table inet cvmctl")
        #expect(there.status != 0, "c2 keeps part of the segment: \(there.output)")
        let c2 = try LibvirtConnection(uri: try TestBedHosts.load().hosts[0].libvirtURI)
        #expect(try c2.lookupNetwork(name: CVMNetworkDefinition.networkName) == nil, "c2's libvirt keeps the CVM network")
    }

    @Test func aHostWhereTheTunnelCannotBeMadeIsNotAddedAndLeavesNothing() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        // A VXLAN device holding the tunnel's VNI on the host's UDP port: Linux refuses a second.
        let vni = CVMNetworkDefinition.vni(for: "10.200.0.2")
        try #require(try Self.sh("ip netns exec cvmh2 ip link add cvxblock type vxlan id \(vni) remote 10.200.0.99 dstport 4789").status == 0)
        defer { _ = try? Self.sh("ip netns exec cvmh2 ip link del cvxblock") }
        let added = try cli.addTestBedHost("c2", index: 0)
        #expect(added.status != 0)
        #expect(added.errorLines.count == 1 && added.errorLines.first?.contains("cannot create VXLAN device") == true, "\(added.stderr)")
        #expect(try cli.run("host", "list", "--json").stdout.contains("\"c2\"") == false)
        let device = CVMNetworkDefinition.tunnelDevice(vni: vni)
        #expect(try Self.sh("ip link show dev \(device)").status != 0, "the hub kept a tunnel to a host that was not added")
        #expect(try Self.sh("ip netns exec cvmh2 ip link show dev cvmnet0").status != 0, "the host kept a bridge")
    }

    @Test func aCVMSubnetOverlappingTheTestBedIsRefusedBeforeAnythingIsMade() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.environment["CVM_SUBNET"] = "10.200.0.0/16"
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", "clash")
        #expect(deployed.status != 0)
        #expect(deployed.errorLines == ["cvmctl: error: the CVM subnet 10.200.0.0/16 overlaps 10.200.0.0/24 on cvmbr0 of this machine; choose another with CVM_SUBNET"],
                "\(deployed.stderr)")
        #expect(try cli.traces(of: "clash").isEmpty)
        #expect(try cli.status().cvms.isEmpty)
    }
}
