import Foundation
@testable import Orchestrator
import Testing

@Suite("Store: policy in force and placements")
struct PolicyStoreTests {
    @Test("the commit in force survives reopening and is replaced, not appended")
    func appliedPolicy() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        #expect(try store.appliedPolicy() == nil)
        let first = AppliedPolicy(commit: "a1", ref: "main", repository: "/r", appliedAt: Date(timeIntervalSince1970: 1000), appliedBy: "apply")
        try store.recordAppliedPolicy(first)
        try store.recordAppliedPolicy(AppliedPolicy(commit: "b2", ref: "main", repository: "/r", appliedAt: Date(timeIntervalSince1970: 2000), appliedBy: "elastic"))
        let reopened = try Store(directory: dir)
        #expect(try reopened.appliedPolicy()?.commit == "b2")
        #expect(try reopened.appliedPolicy()?.appliedBy == "elastic")
        #expect(try reopened.appliedPolicy()?.appliedAt == Date(timeIntervalSince1970: 2000))
    }

    @Test("placements are kept per CVM in order and can be forgotten")
    func placements() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        // Whole seconds: the store keeps times to the millisecond.
        let deploy = try store.record(PlacementRecord(at: Date(timeIntervalSince1970: 1000), cvm: "x", task: "t", action: "deploy", host: "local", policyCommit: "c1",
                                                      reason: "why", explanation: "chosen: local", origin: "elastic"))
        try store.record(PlacementRecord(cvm: "y", task: "t", action: "deploy", host: "local", policyCommit: "c1",
                                         reason: "why", explanation: "e", origin: "elastic"))
        let move = try store.record(PlacementRecord(cvm: "x", task: "t", action: "migrate", host: "par-1", policyCommit: "c2",
                                                    reason: "push", explanation: "chosen: par-1", origin: "elastic"))
        #expect(try store.placements(of: "x").map(\.action) == ["deploy", "migrate"])
        try store.deletePlacement(id: try #require(move.id))
        #expect(try store.placements(of: "x") == [deploy])
    }
}
