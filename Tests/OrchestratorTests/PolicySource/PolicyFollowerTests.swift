import Foundation
@testable import Orchestrator
import Testing

@Suite("PolicyFollower (real git, real store)")
struct PolicyFollowerTests {
    struct Site {
        let repo: GitTestRepository
        let state: String
        let orchestrator: CVMOrchestrator

        init() throws {
            repo = try GitTestRepository()
            state = try Fixtures.temporaryDirectory()
            orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: state, imagesDirectory: TestCatalog.imagesDirectory))
        }

        func remove() {
            repo.remove()
            try? FileManager.default.removeItem(atPath: state)
        }

        func events(_ kind: String) throws -> [EventRecord] {
            try orchestrator.store.events().filter { $0.kind == kind }
        }

        func start(recordsApplied: Bool = true) async throws -> PolicyFollower {
            try await PolicyFollower.start(orchestrator: orchestrator, repository: repo.repository, ref: "refs/heads/main",
                                           recordsApplied: recordsApplied, origin: "elastic")
        }
    }

    @Test("nothing valid to follow is an error naming the refused commit")
    func nothingValid() async throws {
        let site = try Site()
        defer { site.remove() }
        let bad = try site.repo.commit(["policies/policy.yaml": GitTestRepository.invalidPolicy])
        let error = await #expect(throws: PolicySourceError.self) { try await site.start() }
        guard case let .invalid(commit, _, _, inForce)? = error else { Issue.record("wrong error \(String(describing: error))"); return }
        #expect(commit == bad && inForce == nil)
        #expect(try site.events("policy.refused").count == 1)
        #expect(try await site.orchestrator.store.appliedPolicy() == nil)
    }

    @Test("adopts valid commits, journals an invalid one once, keeps the one in force, and resumes it after a restart")
    func followsAndRefuses() async throws {
        let site = try Site()
        defer { site.remove() }
        let a = try site.repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 1)], message: "first policy")
        var follower = try await site.start()
        #expect(follower.inForce.commit == a)
        #expect(try await site.orchestrator.store.appliedPolicy()?.commit == a)
        let adopted = try #require(try site.events("policy.adopted").last)
        #expect(adopted.policyCommit == a)
        #expect(adopted.message.contains("\"first policy\""))

        let b = try site.repo.commit(["policies/policy.yaml": GitTestRepository.invalidPolicy], message: "broken")
        await follower.refresh()
        await follower.refresh()
        #expect(follower.inForce.commit == a)
        let refused = try site.events("policy.refused")
        #expect(refused.count == 1)
        #expect(refused.first?.message.contains("commit \(b.prefix(12))") == true)
        #expect(refused.first?.message.contains("policy \(a.prefix(12)) stays in force") == true)
        #expect(refused.first?.policyCommit == a)
        #expect(try await site.orchestrator.store.appliedPolicy()?.commit == a)

        // A restart while the branch points at the broken commit resumes the commit in force.
        let restarted = try await site.start()
        #expect(restarted.inForce.commit == a)

        let c = try site.repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 2)], message: "fixed")
        await follower.refresh()
        #expect(follower.inForce.commit == c)
        #expect(follower.inForce.policy.tasks["health-monitor"]?.maxCVMs == 2)
        #expect(try await site.orchestrator.store.appliedPolicy()?.commit == c)
        #expect(try site.events("policy.adopted").last?.message.contains("replaces \(a.prefix(12))") == true)
    }

    @Test("recommend-only follows commits without changing the commit in force")
    func recommendOnlyRecordsNothing() async throws {
        let site = try Site()
        defer { site.remove() }
        let a = try site.repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 1)])
        _ = try await site.start()
        let d = try site.repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 3)])
        let watching = try await site.start(recordsApplied: false)
        #expect(watching.inForce.commit == d)
        #expect(try await site.orchestrator.store.appliedPolicy()?.commit == a)
    }

    @Test("git failures are journaled once and the commit in force stays")
    func unreadableRef() async throws {
        let site = try Site()
        defer { site.remove() }
        let a = try site.repo.commit(["policies/policy.yaml": GitTestRepository.policy()])
        var follower = try await site.start()
        try site.repo.git("checkout", "-q", "--detach")
        try site.repo.git("branch", "-q", "-D", "main")
        await follower.refresh()
        await follower.refresh()
        #expect(follower.inForce.commit == a)
        let unreadable = try site.events("policy.unreadable")
        #expect(unreadable.count == 1)
        #expect(unreadable.first?.message.contains("'refs/heads/main' is not a commit") == true)
    }
}
