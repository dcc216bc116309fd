@testable import Planning
import Foundation
@testable import Orchestrator
import Testing

@Suite("PolicySource (real git)")
struct PolicySourceTests {
    @Test("a valid commit yields its validated policy set")
    func validCommit() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let commit = try repo.commit(["policies/policy.yaml": GitTestRepository.policy(maxCVMs: 3)])
        let source = PolicySource(repository: repo.repository, context: TestCatalog.context)
        let revision = try source.revision(at: "HEAD")
        #expect(revision.commit == commit)
        #expect(revision.ref == "HEAD")
        #expect(revision.policy.tasks["health-monitor"]?.maxCVMs == 3)
        #expect(revision.policy.tasks["health-monitor"]?.memoryMiB == 128)  // the catalog's default
        #expect(revision.policy.elastic.intervalSeconds == 0.5)
    }

    @Test("an invalid commit is refused with every problem pinned to the committed file, line, column and key")
    func invalidCommit() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let good = try repo.commit(["policies/policy.yaml": GitTestRepository.policy()])
        let bad = try repo.commit([
            "policies/policy.yaml": GitTestRepository.invalidPolicy,
            "policies/typo.yaml": "tiers:\n  far: {security: public, allowedClouds: [here]}\n",
        ])
        let source = PolicySource(repository: repo.repository, context: TestCatalog.context)
        let candidate = try source.candidate(at: "HEAD")
        #expect(candidate.commit == bad)
        #expect(candidate.revision == nil)
        let diagnostics = try #require(candidate.validationError?.diagnostics)
        #expect(diagnostics.map(\.description) == [
            "policies/policy.yaml:11:14: error: tasks.health-monitor.minCVMs: minCVMs 2 > maxCVMs 1",
            "policies/typo.yaml:2:19: error: tiers.far.security: 'public' is not one of local-only, private, public-allowed",
        ])
        do {
            _ = try source.revision(at: "HEAD", inForce: good)
            Issue.record("an invalid commit was accepted")
        } catch {
            guard case let .invalid(commit, ref, _, inForce) = error else { Issue.record("wrong error \(error)"); return }
            #expect(commit == bad && ref == "HEAD" && inForce == good)
            #expect(error.description.contains("2 errors, first policies/policy.yaml:11:14: tasks.health-monitor.minCVMs: minCVMs 2 > maxCVMs 1"))
            #expect(error.description.contains("policy commit \(good.prefix(12)) stays in force"))
            #expect(!error.description.contains("\n"))
        }
        // The earlier commit is still readable and valid.
        #expect(try source.revision(at: "HEAD~1").commit == good)
    }

    @Test("validation uses the catalog and registry of the context")
    func contextMatters() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        try repo.commit(["policies/policy.yaml": GitTestRepository.policy(task: "unknown-task")])
        let strict = PolicySource(repository: repo.repository, context: TestCatalog.context)
        let diagnostics = try #require(try strict.candidate(at: "HEAD").validationError?.diagnostics)
        #expect(diagnostics.count == 1)
        #expect(diagnostics[0].key == "tasks.unknown-task.image")
        #expect(diagnostics[0].message.contains("cannot run task 'unknown-task'"))
        let noRegistry = PolicySource(repository: repo.repository, context: PolicyContext(
            images: [ImageProfile(name: "cvm-base", hypervisors: .all, defaultVCPUs: 1, defaultMemoryMiB: 128, tasks: ["unknown-task"])],
            knownHosts: ["elsewhere"]))
        let other = try #require(try noRegistry.candidate(at: "HEAD").validationError?.diagnostics)
        #expect(other.map(\.key) == ["tiers.near"])
    }
}
