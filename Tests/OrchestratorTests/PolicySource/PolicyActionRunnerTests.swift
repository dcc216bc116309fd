@testable import Planning
import Foundation
@testable import Orchestrator
import Testing

@Suite("PolicyActionRunner")
struct PolicyActionRunnerTests {
    @Test("new CVM names are valid CVM names whatever the task is called", arguments: [
        "health-monitor", "Log_Collector", "9lives", "a--b", "x" + String(repeating: "y", count: 60), "-", "日本",
    ])
    func newNames(task: String) {
        for _ in 0..<50 {
            let name = PolicyActionRunner.newName(task: task)
            #expect(CVMOrchestrator.isValidName(name), "\(name) from task \(task)")
        }
    }

    @Test("a deploy gets a fresh name no CVM has; migrations and decommissions keep theirs")
    func prepare() throws {
        let state = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: TestCatalog.imagesDirectory))
        let runner = PolicyActionRunner(orchestrator: orchestrator, origin: "apply")
        let deploy = PlannedAction(kind: .deploy(task: "health-monitor", image: "cvm-base", host: "local", vcpus: 1, memoryMiB: 128),
                                   task: "health-monitor", cause: .scaleOut, reason: "r", policyCommit: "c")
        var names: Set<String> = []
        for _ in 0..<20 {
            let prepared = try runner.prepare(deploy, taken: names)
            #expect(prepared.cvm.hasPrefix("health-monitor-"))
            #expect(!names.contains(prepared.cvm))
            names.insert(prepared.cvm)
            #expect(prepared.pending == .deploy(cvm: prepared.cvm, task: "health-monitor", host: "local", vcpus: 1, memoryMiB: 128))
        }
        let retire = PlannedAction(kind: .decommission(cvm: "old-1", host: "local"), task: "health-monitor", cause: .scaleIn,
                                   reason: "r", policyCommit: "c")
        #expect(try runner.prepare(retire).cvm == "old-1")
        #expect(try runner.prepare(retire).pending == .decommission(cvm: "old-1"))
    }

    @Test("a failed action is journaled with its commit and leaves no placement behind")
    func failureIsJournaled() async throws {
        let state = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: TestCatalog.imagesDirectory))
        let runner = PolicyActionRunner(orchestrator: orchestrator, origin: "apply")
        // An image the catalog does not have fails before anything is created.
        let action = PlannedAction(kind: .deploy(task: "health-monitor", image: "no-such-image", host: "local", vcpus: 1, memoryMiB: 128),
                                   task: "health-monitor", cause: .scaleOut, reason: "usage rose", policyCommit: "c0ffee")
        let prepared = try runner.prepare(action)
        let outcome = await runner.perform(prepared)
        #expect(!outcome.succeeded)
        #expect(outcome.failure?.contains("unknown image 'no-such-image'") == true)
        let events = try await orchestrator.store.events().filter { $0.cvm == prepared.cvm }
        #expect(events.map(\.kind) == ["apply.action", "apply.failed"])
        #expect(events.allSatisfy { $0.policyCommit == "c0ffee" })
        #expect(events[0].message.contains("[scale out] — usage rose"))
        #expect(try await orchestrator.store.placements(of: prepared.cvm).isEmpty)
    }
}
