@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// A cluster spread over the local host and two test-bed hosts (real libvirtds over SSH).
@Suite(.serialized) struct RemoteClusterTests {
    @Test func membersSpreadOverHostsAndLeaveNothing() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        let created = try cli.json(ClusterLifecycleTests.Report.self, "cluster", "create", "spread", "--image", "cvm-base",
                                   "--size", "4", "--host", "c2", "--host", "c3", "--host", "local")
        #expect(created.healthy && created.master == "spread-1")
        // The host holding the fewest first, ties in the order given: c2, c3, local, c2.
        #expect(created.members.map(\.host) == ["c2", "c3", "local", "c2"])
        #expect(created.members.map(\.agentRole) == ["master", "servant", "servant", "servant"])

        let deleted = try cli.run("cluster", "delete", "spread")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        for index in 1...4 {
            #expect(try cli.traces(of: "spread-\(index)") == [])
            #expect(try cli.remoteTraces(of: "spread-\(index)") == [])
        }
    }

    @Test func cpuTimesOfATestBedHostOverLibvirt() throws {
        let host = try TestBedHosts.load().hosts[0]
        let connection = try LibvirtConnection(uri: host.libvirtURI)
        let first = try connection.cpuTimes()
        #expect(first.busy > 0 && first.total > first.busy)
        // Keep a CPU busy for a moment so the reading moves.
        let end = Date().addingTimeInterval(0.3)
        var spin = 0
        while Date() < end { spin &+= 1 }
        let second = try connection.cpuTimes()
        let fraction = try #require(second.busyFraction(since: first), "no time passed between \(first) and \(second)")
        #expect(fraction > 0 && fraction <= 1, "busy fraction \(fraction) (spun \(spin) times)")
    }
}
