import Foundation
@testable import Orchestrator
import Testing

@Suite struct ClusterTests {
    @Test("members spread: the host holding the fewest, ties to the one listed first")
    func spread() {
        #expect(ClusterSpread.host(among: ["local"], holding: [:]) == "local")
        #expect(ClusterSpread.host(among: ["a", "b", "c"], holding: [:]) == "a")
        #expect(ClusterSpread.host(among: ["a", "b", "c"], holding: ["a": 1]) == "b")
        #expect(ClusterSpread.host(among: ["a", "b", "c"], holding: ["a": 1, "b": 1]) == "c")
        #expect(ClusterSpread.host(among: ["a", "b", "c"], holding: ["a": 2, "b": 1, "c": 1]) == "b")
        // Counts on hosts the cluster may not use do not matter.
        #expect(ClusterSpread.host(among: ["a", "b"], holding: ["z": 0, "a": 3, "b": 3]) == "a")
        // Five members over three hosts: 2, 2, 1.
        var holding: [String: Int] = [:]
        for _ in 0..<5 { holding[ClusterSpread.host(among: ["a", "b", "c"], holding: holding), default: 0] += 1 }
        #expect(holding == ["a": 2, "b": 2, "c": 1])
    }

    @Test("the store keeps clusters: unique names, members by name, ordinals taken once")
    func store() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        let cluster = ClusterRecord(name: "web", image: "cvm-base", task: "t", size: 2, hosts: "local,b",
                                    nextOrdinal: 3, createdAt: Date())
        try store.insert(cluster)
        #expect(throws: OrchestratorError.nameTaken("web")) { try store.insert(cluster) }
        #expect(try store.cluster(named: "web")?.hostList == ["local", "b"])
        var one = StoreTests.record("web-1"), two = StoreTests.record("web-2"), other = StoreTests.record("x")
        one.cluster = "web"; two.cluster = "web"
        one.role = "master"; two.role = "servant"
        for record in [two, other, one] { try store.insert(record) }
        #expect(try store.members(ofCluster: "web").map(\.name) == ["web-1", "web-2"])
        #expect(try store.takeOrdinal(cluster: "web") == 3)
        #expect(try store.takeOrdinal(cluster: "web") == 4)
        #expect(try store.takeOrdinal(cluster: "nope") == nil)
        let report = try #require(try store.cluster(named: "web")).report(with: store)
        #expect(report.master == nil, "no member is running yet")
        #expect(!report.healthy)
        try store.deleteCluster(named: "web")
        #expect(try store.clusters().isEmpty)
    }

    @Test("a cluster is healthy with every member running and a running master")
    func report() throws {
        let cluster = ClusterRecord(name: "c", image: "cvm-base", task: "t", size: 2, hosts: "local", nextOrdinal: 3, createdAt: Date())
        var master = StoreTests.record("c-1"), servant = StoreTests.record("c-2")
        master.role = "master"; servant.role = "servant"
        master.state = .running; servant.state = .running
        master.agentRole = "master"
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).healthy)
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).members.map(\.agentRole) == ["master", nil])
        servant.state = .failed
        let degraded = ClusterReport(cluster: cluster, members: [master, servant])
        #expect(!degraded.healthy && degraded.running == 1 && degraded.master == "c-1")
        master.state = .failed
        servant.state = .running
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).master == nil)
        #expect(!ClusterReport(cluster: cluster, members: [master]).healthy)
    }
}

extension ClusterRecord {
    func report(with store: Store) throws -> ClusterReport {
        ClusterReport(cluster: self, members: try store.members(ofCluster: name))
    }
}
