@testable import Planning
import Foundation
@testable import Orchestrator
import Testing

@Suite("PolicyRepository (real git)")
struct PolicyRepositoryTests {
    @Test("resolves HEAD, branches, tags and abbreviated ids to the full commit")
    func resolvesRefs() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let first = try repo.commit(["policies/a.yaml": "tiers: {}\n"])
        try repo.git("tag", "v1")
        let second = try repo.commit(["policies/a.yaml": "tasks: {}\n"])
        let r = repo.repository
        #expect(try r.resolve("HEAD") == second)
        #expect(try r.resolve("main") == second)
        #expect(try r.resolve("refs/heads/main") == second)
        #expect(try r.resolve("v1") == first)
        #expect(try r.resolve("HEAD~1") == first)
        #expect(try r.resolve(String(first.prefix(8))) == first)
        #expect(first.count == 40 && first != second)
    }

    @Test("reads the yaml files of policies/ at the commit, not the working tree")
    func readsCommittedFiles() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let commit = try repo.commit([
            "policies/tiers.yaml": "tiers: {}\n", "policies/tasks.yml": "tasks: {}\n", "policies/README.md": "# not policy\n",
            "policies/old/ignored.yaml": "x: 1\n", "other/elsewhere.yaml": "y: 2\n",
        ])
        // Uncommitted edits and new files are not what the commit holds.
        try "tiers: {edited: true}\n".write(toFile: repo.path + "/policies/tiers.yaml", atomically: true, encoding: .utf8)
        try "new: 1\n".write(toFile: repo.path + "/policies/new.yaml", atomically: true, encoding: .utf8)

        let files = try repo.repository.policyFiles(at: commit)
        #expect(files == [
            PolicyFile(path: "policies/tasks.yml", text: "tasks: {}\n"),
            PolicyFile(path: "policies/tiers.yaml", text: "tiers: {}\n"),
        ])
    }

    @Test("works from a subdirectory of the working tree and reports paths from the root")
    func fromSubdirectory() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let commit = try repo.commit(["policies/a.yaml": "tiers: {}\n", "docs/x.txt": "x\n"])
        let sub = PolicyRepository(directory: repo.path + "/docs")
        #expect(try sub.resolve("HEAD") == commit)
        #expect(try sub.policyFiles(at: commit).map(\.path) == ["policies/a.yaml"])
        #expect(try sub.root() == (try repo.repository.root()))
    }

    @Test("errors say what is wrong in one line")
    func errors() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let commit = try repo.commit(["README.md": "no policies here\n"])
        let r = repo.repository
        #expect(throws: PolicySourceError.unknownRef(ref: "nope", repository: repo.path)) { try r.resolve("nope") }
        #expect(throws: PolicySourceError.unknownRef(ref: "--all", repository: repo.path)) { try r.resolve("--all") }
        #expect(throws: PolicySourceError.noPolicies(commit: commit, folder: "policies")) { try r.policyFiles(at: commit) }

        let plain = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: plain) }
        do {
            _ = try PolicyRepository(directory: plain).resolve("HEAD")
            Issue.record("a directory outside any repository resolved a ref")
        } catch {
            guard case let .notARepository(directory, problem) = error else { Issue.record("wrong error \(error)"); return }
            #expect(directory == plain)
            #expect(problem.contains("not a git repository"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("contains(commit:) tells known commits from unknown ones")
    func containsCommit() throws {
        let repo = try GitTestRepository()
        defer { repo.remove() }
        let commit = try repo.commit(["policies/a.yaml": "tiers: {}\n"])
        #expect(repo.repository.contains(commit: commit))
        #expect(!repo.repository.contains(commit: String(repeating: "1", count: 40)))
    }
}
