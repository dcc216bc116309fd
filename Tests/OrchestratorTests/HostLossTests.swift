import Foundation
@testable import Orchestrator
import Testing

/// What `status`, `decommission` and heal do while a host does not answer, over in-memory
/// hypervisors (the real faults run in the chaos integration tests).
@Suite struct HostLossTests {
    @Test("status: a row left deploying by a process that is gone shows as failed, with why")
    func deadOwnerShowsFailed() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        var record = StoreTests.record("orphan")
        record.ownerPid = getpid()
        record.ownerStart = (ProcessLiveness.currentStart ?? 0) + 1   // our pid, another start: a reused pid
        try await site.store.insert(record)
        let status = try await site.orchestrator.status()
        let row = try #require(status.cvms.first { $0.name == "orphan" })
        #expect(row.state == "failed")
        #expect(row.failure?.contains("which is gone") == true, "\(row.failure ?? "")")
    }

    @Test("status: an unreachable host is reported with its reason, and its running CVMs are unknown")
    func unreachableHostIsReported() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("far", host: "cloud")
        try await site.store.update(cvmID: try #require(try await site.store.cvm(named: "far")).id) { $0.state = .running }
        site.hypervisors.unreachable.withLock { _ = $0.insert("cloud") }
        let status = try await site.orchestrator.status()
        #expect(status.unreachableHosts == ["cloud"])
        #expect(status.hostProblems["cloud"]?.contains("unreachable") == true)
        #expect(status.cvms.first?.state == "unknown")
    }

    @Test("decommission of a failed CVM on an unreachable host: out of its cluster at once, fenced later")
    func decommissionDefers() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("far", host: "cloud")
        let id = try #require(try await site.store.cvm(named: "far")).id
        try await site.store.update(cvmID: id) { $0.state = .failed; $0.cluster = "c" }
        site.hypervisors.unreachable.withLock { _ = $0.insert("cloud") }
        let result = try await site.orchestrator.decommission(name: "far")
        #expect(result.outcome == .deferred)
        let record = try #require(try await site.store.cvm(id: id))
        #expect(record.state == .fencing && record.cluster == nil)
        #expect(site.cloud.domainNames == ["cvm-far"], "nothing could be removed yet")
        #expect(try await site.store.events().contains { $0.kind == "decommission.deferred" })
    }
}
