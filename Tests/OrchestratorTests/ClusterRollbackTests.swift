import Foundation
@testable import Orchestrator
import Testing

/// Cluster creation against in-memory hypervisors: member k failing rolls back members 1..k-1.
@Suite struct ClusterRollbackTests {
    @Test(arguments: 1...3)
    func memberKFailingRollsBackTheOthers(_ k: Int) async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        // Members spread over local and cloud (local first): member k lands on this host.
        let host = k % 2 == 1 ? site.local : site.cloud
        host.fail(.defineDomain, after: (k - 1) / 2)
        await #expect(throws: InjectedFailure(step: .defineDomain)) {
            try await site.orchestrator.createCluster(ClusterRequest(name: "db", image: "tiny", size: 3, hosts: ["local", "cloud"]))
        }
        for n in 1...3 { try site.expectGone("db-\(n)") }
        #expect(try await site.store.cluster(named: "db") == nil)
        #expect(try await site.store.events().last?.kind == "cluster.rollback")
    }

    @Test func aWholeClusterHasOneMasterAndIsDeletedWithoutATrace() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        let report = try await site.orchestrator.createCluster(ClusterRequest(name: "db", image: "tiny", size: 3, hosts: ["local", "cloud"]))
        #expect(report.master == "db-1")
        #expect(report.healthy)
        #expect(site.local.runningDomainNames == ["cvm-db-1", "cvm-db-3"])
        #expect(site.cloud.runningDomainNames == ["cvm-db-2"])
        _ = try await site.orchestrator.deleteCluster(name: "db")
        for n in 1...3 { try site.expectGone("db-\(n)") }
        #expect(try await site.store.cluster(named: "db") == nil)
    }
}
