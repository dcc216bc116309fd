@testable import Planning
@testable import Orchestrator
import Testing

@Suite("DecisionLog")
struct DecisionLogTests {
    static func plan(_ decisions: [(String, OffloadDecision.Verdict, Int, Int, String)]) -> PolicyPlan {
        PolicyPlan(policyCommit: "c", tasks: decisions.map { task, verdict, current, target, reason in
            TaskPlan(task: task, cvms: [], decision: OffloadDecision(
                task: task, current: current, target: target, verdict: verdict, units: nil, confirmedUnits: nil,
                dominant: nil, threshold: nil, reason: reason))
        }, actions: [])
    }

    @Test("a task's decision is reported when verdict, count or target changes, not when only figures do")
    func reportsChanges() {
        var log = DecisionLog()
        #expect(log.changes(in: Self.plan([("a", .runLocally, 0, 0, "x"), ("b", .hold, 1, 1, "y")])).map(\.task) == ["a", "b"])
        #expect(log.changes(in: Self.plan([("a", .runLocally, 0, 0, "x 2"), ("b", .hold, 1, 1, "y 2")])).isEmpty)
        let changed = log.changes(in: Self.plan([("a", .offload, 0, 1, "rising"), ("b", .hold, 1, 1, "y")]))
        #expect(changed.map(\.task) == ["a"])
        #expect(DecisionLog.line(for: changed[0]) == "a: offload, 0 → 1 CVM: rising")
        // A task that left and came back is reported again.
        _ = log.changes(in: Self.plan([("b", .hold, 1, 1, "y")]))
        #expect(log.changes(in: Self.plan([("a", .offload, 0, 1, "rising"), ("b", .hold, 1, 1, "y")])).map(\.task) == ["a"])
    }

    @Test("a task that becomes heavy on a resource offloading does not relieve is reported, though it still runs locally")
    func reportsUnrelieved() {
        var log = DecisionLog()
        _ = log.changes(in: Self.plan([("web", .runLocally, 0, 0, "light")]))
        var heavy = Self.plan([("web", .runLocally, 0, 0, "heavy on bytesPerSecond")])
        heavy.tasks[0].decision?.unrelieved = .init(resource: .bytesPerSecond, units: 5)
        #expect(log.changes(in: heavy).map(\.task) == ["web"])
        #expect(log.changes(in: heavy).isEmpty)
    }
}
