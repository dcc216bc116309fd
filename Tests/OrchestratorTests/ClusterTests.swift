import CVMProtocol
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
        let cluster = ClusterRecord(name: "web", image: "cvm-base", task: "t", size: 2, hosts: ["local", "b"],
                                    nextOrdinal: 3, createdAt: Date())
        try store.insert(cluster)
        #expect(throws: OrchestratorError.nameTaken("web")) { try store.insert(cluster) }
        #expect(try store.cluster(named: "web")?.hostList == ["local", "b"])
        var one = StoreTests.record("web-1"), two = StoreTests.record("web-2"), other = StoreTests.record("x")
        one.cluster = "web"; two.cluster = "web"
        one.role = .master; two.role = .servant
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
        let cluster = ClusterRecord(name: "c", image: "cvm-base", task: "t", size: 2, hosts: ["local"], nextOrdinal: 3, createdAt: Date())
        var master = StoreTests.record("c-1"), servant = StoreTests.record("c-2")
        master.role = .master; servant.role = .servant
        master.state = .running; servant.state = .running
        master.agentRole = .master
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).healthy)
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).members.map(\.agentRole) == [.master, nil])
        servant.state = .failed
        let degraded = ClusterReport(cluster: cluster, members: [master, servant])
        #expect(!degraded.healthy && degraded.running == 1 && degraded.master == "c-1")
        master.state = .failed
        servant.state = .running
        #expect(ClusterReport(cluster: cluster, members: [master, servant]).master == nil)
        #expect(!ClusterReport(cluster: cluster, members: [master]).healthy)
    }
}

@Suite struct PromotionTests {
    @Test("the running servant that heartbeated last becomes master, once; the lost master becomes a servant")
    func promote() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        var ids: [String] = []
        for index in 0..<3 {
            var r = StoreTests.record("c-\(index + 1)")
            r.cluster = "c"
            r.role = index == 0 ? .master : .servant
            r.state = .running
            r.lastHeartbeatAt = Date(timeIntervalSince1970: Double(1_000 + index))
            try store.insert(r)
            ids.append(r.id)
        }
        #expect(try store.promoteServant(inCluster: "c") == nil, "the master runs")
        // Unconfirmed (its host does not answer) or busy: still the master, nobody promoted.
        for state in [CVMRecord.State.unknown, .migrating, .stopping, .deploying] {
            try store.update(cvmID: ids[0]) { $0.state = state }
            #expect(try store.promoteServant(inCluster: "c") == nil, "promoted over a master that is \(state)")
        }
        try store.update(cvmID: ids[0]) { $0.state = .failed }
        #expect(try store.promoteServant(inCluster: "c")?.name == "c-3")
        #expect(try store.promoteServant(inCluster: "c") == nil, "a second attempt finds the new master")
        #expect(try store.members(ofCluster: "c").map(\.role) == [.servant, .servant, .master])
    }
}

@Suite struct TaskClusterReportTests {
    @Test("a policy task's cluster: sized by what it has, healthy with all running and a master")
    func taskCluster() {
        var master = StoreTests.record("hm-1"), servant = StoreTests.record("hm-2")
        master.role = .master; servant.role = .servant
        master.state = .running; servant.state = .running
        servant.host = "b"
        let report = ClusterReport(taskCluster: "health-monitor", members: [master, servant])
        #expect(report.managedBy == "policy" && report.size == 2 && report.healthy && report.master == "hm-1")
        #expect(report.hosts == ["b", "local"] && report.task == "t")
        master.state = .failed
        #expect(!ClusterReport(taskCluster: "health-monitor", members: [master, servant]).healthy)
    }
}

extension ClusterRecord {
    func report(with store: Store) throws -> ClusterReport {
        ClusterReport(cluster: self, members: try store.members(ofCluster: name))
    }
}

@Suite struct ClusterHealingTests {
    static let cluster = ClusterRecord(name: "c", image: "cvm-base", task: "t", size: 2, hosts: ["local"], nextOrdinal: 3, createdAt: Date())

    static func report(_ states: [(String, CVMRecord.State)]) -> ClusterReport {
        let members = states.enumerated().map { index, entry in
            var record = StoreTests.record(entry.0)
            record.role = index == 0 ? .master : .servant
            record.state = entry.1
            return record
        }
        return ClusterReport(cluster: cluster, members: members)
    }

    @Test("only clusters that are not whole, not being changed, and not failed recently are healed")
    func due() {
        var healing = ClusterHealing()
        let now = Date()
        let whole = Self.report([("c-1", .running), ("c-2", .running)])
        #expect(healing.due([whole], isBusy: { _ in false }, now: now).isEmpty)
        let lost = Self.report([("c-1", .failed), ("c-2", .running)])
        let due = healing.due([lost], isBusy: { _ in false }, now: now)
        #expect(due.map(\.name) == ["c"])
        #expect(due.first?.why.contains("failed: c-1") == true && due.first?.why.contains("no running master") == true)
        #expect(healing.due([lost], isBusy: { _ in true }, now: now).isEmpty, "another process owns it")
        #expect(healing.due([Self.report([("c-1", .running), ("c-2", .migrating)])], isBusy: { _ in false }, now: now).isEmpty,
                "a member in transit is not lost")
        #expect(healing.due([Self.report([("c-1", .running)])], isBusy: { _ in false }, now: now).first?.why == "1 of 2 members")
        healing.started("c")
        #expect(healing.due([lost], isBusy: { _ in false }, now: now).isEmpty, "one heal at a time")
        healing.ended("c", failed: true, at: now)
        #expect(healing.due([lost], isBusy: { _ in false }, now: now.addingTimeInterval(10)).isEmpty, "retried only after 30 s")
        #expect(healing.due([lost], isBusy: { _ in false }, now: now.addingTimeInterval(31)).count == 1)
        healing.ended("c", failed: false, at: now)
        #expect(healing.due([lost], isBusy: { _ in false }, now: now).count == 1)
    }

    @Test("recommend-only journals each unhealthy episode once")
    func recommendations() {
        var healing = ClusterHealing()
        let first = healing.shouldRecommend("c")
        let second = healing.shouldRecommend("c")
        healing.whole(["c"])
        let afterWhole = healing.shouldRecommend("c")
        #expect(first && !second && afterWhole)
    }
}
