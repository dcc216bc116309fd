import CVMProtocol
import Foundation
import Libvirt
@testable import Orchestrator
import Testing

/// The CVM segment as deploy, migrate and status use it, over in-memory hypervisors: every
/// CVM gets a NIC with a leased address, the hosts involved join the segment (bridge,
/// firewall, a tunnel each way), and a failure at any of these steps leaves nothing behind.
@Suite struct CVMSegmentTests {
    @Test func aDeployedCVMHasANICWithItsLeasedAddressAndDecommissionFreesIt() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("a")
        _ = try await site.deploy("b")
        let a = try #require(try await site.store.cvm(named: "a")), b = try #require(try await site.store.cvm(named: "b"))
        let leaseA = try #require(try await site.store.addressLease(cvmID: a.id))
        let leaseB = try #require(try await site.store.addressLease(cvmID: b.id))
        #expect(leaseA.address == "10.77.0.2" && leaseB.address == "10.77.0.3")
        let nic = try #require(site.local.definition(of: a.domainName)?.devices.interfaces.first)
        #expect(nic.network == CVMNetworkDefinition.networkName && nic.mac == leaseA.mac && nic.model == "virtio")
        #expect(nic.targetDev == CVMNetworkDefinition.tapDevice(cvmID: a.id) && nic.mtu == CVMNetworkDefinition.mtu)
        let network = try #require(site.local.cvmNetworkNow)
        #expect(network.carriesGateway && network.tunnels.isEmpty)

        let report = try await site.orchestrator.status()
        #expect(report.cvms.first { $0.name == "a" }?.address == "10.77.0.2")
        _ = try await site.orchestrator.decommission(name: "a")
        #expect(try await site.store.addressLease(cvmID: a.id) == nil)
        _ = try await site.deploy("c")
        let c = try #require(try await site.store.cvm(named: "c"))
        #expect(try await site.store.addressLease(cvmID: c.id)?.address == "10.77.0.2", "the freed address is leased again")
    }

    @Test func aDeployOnACloudHostJoinsItToTheHubBothWays() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("far", host: "cloud")
        let vni = CVMNetworkDefinition.vni(for: "127.0.0.2")
        let outward = try #require(site.local.tunnelsNow["cloud"])
        #expect(outward.vni == vni && outward.remote == "127.0.0.2")
        let inward = try #require(site.cloud.tunnelsNow["local"])
        #expect(inward.vni == vni && inward.remote == LocalNetworks.sourceAddress(toward: "127.0.0.2"))
        #expect(site.cloud.cvmNetworkNow?.carriesGateway == false && site.local.cvmNetworkNow?.carriesGateway == true)
    }

    @Test func oneMachineUnderTwoNamesSharesOneTunnelAndKeepsItUntilTheLastNameGoes() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        var twin = try #require(try await site.store.host(named: "cloud"))
        twin.name = "cloud-twin"
        try await site.store.save(twin)
        let segment = site.orchestrator.segment
        try await segment.attach(try #require(try await site.store.host(named: "cloud")))
        try await segment.attach(twin)
        #expect(site.local.tunnelsNow.count == 2, "one per name...")
        #expect(Set(site.local.tunnelsNow.values.map(\.device)).count == 1, "...but one device: no loop")
        try await segment.detach(twin)
        #expect(site.cloud.cvmNetworkNow != nil, "still used by 'cloud'")
    }

    @Test func thisMachineCannotBeACloudHost() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        var me = try #require(try await site.store.host(named: "cloud"))
        me.name = "me"
        me.address = "127.0.0.1"
        do {
            try await site.orchestrator.segment.attach(me)
            Issue.record("the hub was joined to itself")
        } catch {
            #expect("\(error)".contains("is this machine"), "\(error)")
        }
    }

    @Test func aMigrationJoinsTheDestinationBeforeTheDomainArrives() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("mover")
        #expect(site.cloud.tunnelsNow.isEmpty)
        _ = try await site.orchestrator.migrate(MigrateRequest(name: "mover", destination: "cloud", reportProgress: false))
        #expect(site.cloud.tunnelsNow["local"] != nil && site.local.tunnelsNow["cloud"] != nil)
        let record = try #require(try await site.store.cvm(named: "mover"))
        #expect(try await site.store.addressLease(cvmID: record.id)?.address == "10.77.0.2", "the address moves with it")
    }

    @Test func aFullSubnetRefusesTheDeployInOneLineAndLeavesNothing() async throws {
        let site = try FakeSite.make(cvmSubnet: "10.77.0.0/30") // one CVM address: 10.77.0.2
        defer { site.remove() }
        _ = try await site.deploy("first")
        do {
            _ = try await site.deploy("second")
            Issue.record("a deploy into a full subnet succeeded")
        } catch {
            let text = "\(error)"
            #expect(text.contains("10.77.0.0/30 is full") && !text.contains("\n"), "\(text)")
        }
        #expect(try await site.store.cvm(named: "second") == nil)
        #expect(site.local.domainNames == ["cvm-first"] && site.local.volumeNamesNow.count == 1)
        #expect(try await site.store.addressLeases().count == 1)
    }

    @Test func aSubnetOverlappingAHostNetworkIsRefusedAndLeavesNothing() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        site.local.setInterfaces([.init(name: "eth1", subnet: try IPv4Subnet.parse("10.77.0.0/16").get())])
        do {
            _ = try await site.deploy("web")
            Issue.record("a deploy with an overlapping subnet succeeded")
        } catch {
            #expect("\(error)".contains("overlaps 10.77.0.0/16 on eth1 of this machine"), "\(error)")
        }
        try site.expectGone("web")
        #expect(try await site.store.addressLeases().isEmpty)

        // The same on a cloud host's side, named by the host.
        site.local.setInterfaces([])
        site.cloud.setInterfaces([.init(name: "ens3", subnet: try IPv4Subnet.parse("10.77.0.128/25").get())])
        await #expect(throws: OrchestratorError.self) { try await site.deploy("far", host: "cloud") }
        try site.expectGone("far")
        // Our own bridge carries the subnet: not a conflict.
        site.cloud.setInterfaces([.init(name: CVMNetworkDefinition.bridgeName, subnet: try IPv4Subnet.parse("10.77.0.0/24").get())])
        _ = try await site.deploy("far", host: "cloud")
    }

    @Test func aHostWhoseNetworkCannotBeMadeRollsTheDeployBack() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        site.cloud.fail(.ensureNetwork)
        await #expect(throws: InjectedFailure(step: .ensureNetwork)) { try await site.deploy("far", host: "cloud") }
        try site.expectGone("far")
        #expect(try await site.store.addressLeases().isEmpty)
    }
}

@Suite struct CVMNetworkDefinitionTests {
    let subnet = try! IPv4Subnet.parse("10.77.0.0/24").get()

    @Test func tunnelNumbersAndDeviceNamesFitLinux() {
        var seen = Set<UInt32>()
        for name in ["c2", "c3", "cloud-frankfurt-1", "", String(repeating: "x", count: 300)] {
            let vni = CVMNetworkDefinition.vni(for: name)
            #expect(vni == CVMNetworkDefinition.vni(for: name))
            #expect((4096...0x00ff_ffff).contains(vni))
            #expect(CVMNetworkDefinition.tunnelDevice(vni: vni).utf8.count <= 15)
            seen.insert(vni)
        }
        #expect(seen.count == 5)
        #expect(CVMNetworkDefinition.tunnelDevice(vni: 0x1000) == "cvx001000")
        let tap = CVMNetworkDefinition.tapDevice(cvmID: "53cdb1c4-365f-4a7e-9d1e-1f2a3b4c5d6e")
        #expect(tap == "cv53cdb1c4365f" && tap.utf8.count <= 15 && !tap.hasPrefix("vnet"))
    }

    @Test func theHubCarriesTheGatewayAndTunnelsAreMadeOnlyWhenTheyDiffer() {
        let hub = CVMNetworkDefinition(subnet: subnet, carriesGateway: true,
                                       tunnels: [.init(peerHost: "c2", vni: 5000, remote: "10.200.0.2")])
        let script = hub.ensureScript
        #expect(script.contains("ip addr replace 10.77.0.1/24 dev cvmnet0"))
        #expect(script.contains("grep -q \"vxlan id 5000 remote 10.200.0.2 \""))
        #expect(script.contains("ip link add cvx001388 type vxlan id 5000 remote 10.200.0.2 dstport 4789"))
        #expect(script.contains("flock") && script.contains("nft -f -"))
        let spoke = CVMNetworkDefinition(subnet: subnet, carriesGateway: false)
        #expect(!spoke.ensureScript.contains("ip addr"))
        #expect(hub.removalScript(onlyTunnels: true).contains("ip link del dev cvx001388"))
        #expect(!hub.removalScript(onlyTunnels: true).contains("cvmnet0"))
        #expect(spoke.removalScript(onlyTunnels: false).contains("ip link del dev cvmnet0"))
    }

    @Test func theFirewallDropsWhatGuestsSendToTheHostAndWhatIsRouted() {
        let rules = CVMNetworkDefinition(subnet: subnet, carriesGateway: true).firewall
        #expect(rules.contains("iifname \"cvmnet0\" ct state established,related accept"))
        #expect(rules.contains("iifname \"cvmnet0\" counter drop"))
        #expect(rules.contains("iifname \"cvmnet0\" oifname != \"cvmnet0\" counter drop"))
        #expect(rules.contains("oifname \"cvmnet0\" iifname != \"cvmnet0\" counter drop"))
        #expect(rules.hasPrefix("table inet cvmctl\ndelete table inet cvmctl\n"), "replaced atomically")
    }

    @Test func ipAddrOutputIsParsedAndJunkSkipped() {
        let text = """
        1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
        2: eth0    inet 10.200.0.2/24 brd 10.200.0.255 scope global eth0\\       valid_lft forever
        7: cvmnet0    inet 10.77.0.1/24 scope global cvmnet0
        junk
        9: x    inet 999.1.1.1/24 scope global x
        10: y    inet 10.1.1.1/99 scope global y
        """
        let found = LocalNetworks.parse(ipAddrOutput: text)
        #expect(found.map(\.name) == ["eth0", "cvmnet0"])
        #expect(found.first?.subnet.description == "10.200.0.0/24")
    }

    @Test func theSourceAddressTowardAnAddressIsTheRoutingTablesChoice() {
        #expect(LocalNetworks.sourceAddress(toward: "127.0.0.1") == "127.0.0.1")
        #expect(LocalNetworks.sourceAddress(toward: "not-an-address") == nil)
    }
}

@Suite struct ProbeCommandTests {
    @Test func aProbeGoesToTheAgentAndItsResultComesBack() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        let ssh = try #require(ProbeTarget("10.200.0.2:22", route: .link))
        #expect(try await site.orchestrator.probe(cvm: "web", target: ssh) == .timeout)
        let other = try #require(ProbeTarget("10.77.0.3:80", route: .link))
        #expect(try await site.orchestrator.probe(cvm: "web", target: other) == .open)
        await #expect(throws: OrchestratorError.unknownCVM("nobody")) { try await site.orchestrator.probe(cvm: "nobody", target: ssh) }
    }

    @Test func aCVMWithoutANICIsToldSo() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("old")
        let record = try #require(try await site.store.cvm(named: "old"))
        try await site.store.releaseAddress(cvmID: record.id)
        do {
            _ = try await site.orchestrator.probe(cvm: "old", target: ProbeTarget(address: 1, port: 1, route: .link))
            Issue.record("probed a CVM without a NIC")
        } catch {
            #expect("\(error)".contains("has no NIC on the CVM segment"))
        }
    }
}

@Suite struct ServeCommandTests {
    @Test func aServeWaitsForTheHeartbeatThatSaysItServes() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("backup")
        let result = try await site.orchestrator.serve(cvm: "backup", config: "vServers:\n  - name: b\n")
        #expect(result.address == "10.77.0.2" && result.report.serving && result.report.opened == 2)
        let status = try #require(try await site.orchestrator.status().cvms.first)
        #expect(status.serving == true && status.servedBytes == 3)
    }

    @Test func aDataPlaneThatNeverServesIsOneLine() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("backup")
        do {
            _ = try await site.orchestrator.serve(cvm: "backup", config: "broken: yes\n", timeout: .milliseconds(300))
            Issue.record("a data plane that never serves was accepted")
        } catch {
            #expect("\(error)".contains("did not start with this configuration"), "\(error)")
        }
    }

    /// A data plane that refuses its configuration says why in its heartbeat: `serve` fails at
    /// once with those words, bounded and without control characters.
    @Test func aRefusedConfigurationIsOneLineWithTheGuestsReasonBounded() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("backup")
        let began = ContinuousClock.now
        do {
            _ = try await site.orchestrator.serve(cvm: "backup", config: "refused: yes\n", timeout: .seconds(90))
            Issue.record("a refused configuration was taken for served")
        } catch {
            let line = "\(error)"
            #expect(line.hasPrefix("CVM 'backup' refused its configuration: bad [31m monitor xxx"), "\(line)")
            #expect(!line.contains("\u{1B}") && !line.contains("\n"), "\(line)")
            #expect(line.utf8.count < 300, "\(line.utf8.count) bytes")
        }
        // Loose (a busy two-core suite delays any task by seconds), far from the 90 s timeout.
        #expect(ContinuousClock.now - began < .seconds(30), "serve waited for its timeout")
    }

    @Test func aConfigurationTooLargeForTheChannelIsRefusedBeforeSending() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("backup")
        do {
            _ = try await site.orchestrator.serve(cvm: "backup", config: String(repeating: "# padding\n", count: 500))
            Issue.record("an oversized configuration was sent")
        } catch {
            #expect("\(error)".contains("more than the 4096 a line may have"), "\(error)")
        }
    }
}

@Suite struct ReturnRelayFirewallTests {
    @Test func marksOnlyTheRelaysPortsOnTheGatewayFromTheBridge() {
        let rules = ReturnRelayFirewall.rules(gateway: "10.77.0.1", ports: [8091, 8090])
        #expect(rules.contains(#"iifname "cvmnet0" ip daddr 10.77.0.1 tcp dport { 8090, 8091 } meta mark set 0x4376544d"#))
        #expect(rules.contains("priority -20"), "before the isolation rules (priority -10), which accept what it marked")
        #expect(CVMNetworkDefinition(subnet: IPv4Subnet(network: 0x0a4d_0000, prefixLength: 24), carriesGateway: true)
            .firewall.contains(#"iifname "cvmnet0" meta mark 0x4376544d accept"#))
        #expect(!ReturnRelayFirewall.rules(gateway: "10.77.0.1", ports: []).contains("dport"))
    }
}
