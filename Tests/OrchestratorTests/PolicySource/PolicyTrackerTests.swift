import Foundation
@testable import Orchestrator
import Testing

@Suite("PolicyTracker (following a branch of a real git repository)")
struct PolicyTrackerTests {
    @Test("valid commits are adopted; an invalid one is refused once and the previous stays in force")
    func adoptRefuseKeep() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let source = PolicySource(repository: repo.repository, context: TestCatalog.context)
        var tracker = PolicyTracker()

        let a = try repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 1)], message: "a")
        guard case let .adopted(first, previous) = tracker.consider(try source.candidate(at: "main")) else {
            Issue.record("valid commit a not adopted"); return
        }
        #expect(first.commit == a && previous == nil)
        #expect(tracker.consider(try source.candidate(at: "main")) == .unchanged)

        let b = try repo.commit(["policies/policy.yaml": GitTestRepository.invalidPolicy], message: "b")
        guard case let .refused(commit, _, error, inForce) = tracker.consider(try source.candidate(at: "main")) else {
            Issue.record("invalid commit b not refused"); return
        }
        #expect(commit == b && inForce == a)
        #expect(error.diagnostics.first?.key == "tasks.health-monitor.minCVMs")
        #expect(tracker.inForce?.commit == a)
        #expect(tracker.inForce?.policy.tasks["health-monitor"]?.maxCVMs == 1)
        // Seen again: nothing new to report, nothing changes.
        #expect(!tracker.needsReading(b))
        #expect(tracker.consider(try source.candidate(at: "main")) == .unchanged)
        #expect(tracker.inForce?.commit == a)

        let c = try repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 4)], message: "c")
        guard case let .adopted(third, previousOfC) = tracker.consider(try source.candidate(at: "main")) else {
            Issue.record("valid commit c not adopted"); return
        }
        #expect(third.commit == c && previousOfC == a)
        #expect(tracker.inForce?.policy.tasks["health-monitor"]?.maxCVMs == 4)
    }

    @Test("following a branch ignores commits on other branches and follows resets")
    func followsTheBranchOnly() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let source = PolicySource(repository: repo.repository, context: TestCatalog.context)
        var tracker = PolicyTracker()
        let a = try repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 1)], message: "a")
        _ = tracker.consider(try source.candidate(at: "refs/heads/main"))

        try repo.git("checkout", "-q", "-b", "experiment")
        let x = try repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 9)], message: "x")
        #expect(try repo.repository.resolve("HEAD") == x)
        #expect(tracker.consider(try source.candidate(at: "refs/heads/main")) == .unchanged)
        #expect(tracker.inForce?.commit == a)

        // Merging the branch into main moves main: the next look adopts it.
        try repo.git("checkout", "-q", "main")
        try repo.git("merge", "-q", "--ff-only", "experiment")
        guard case let .adopted(merged, previous) = tracker.consider(try source.candidate(at: "refs/heads/main")) else {
            Issue.record("the merged commit was not adopted"); return
        }
        #expect(merged.commit == x && previous == a)

        // Resetting main back to a valid commit that was in force before adopts it again.
        try repo.git("reset", "-q", "--hard", a)
        guard case .adopted(let back, _) = tracker.consider(try source.candidate(at: "refs/heads/main")) else {
            Issue.record("the reset was not followed"); return
        }
        #expect(back.commit == a)
    }
}
