import Foundation
import Orchestrator
import Testing

/// Bad input to `cvmctl policy`, `explain` and `elastic`: one clear error line and a non-zero
/// exit; and the help text documents the synthetic usage input. No CVM is started.
@Suite struct PolicyCLIInputTests {
    @Test func notARepositoryUnknownRefAndUnknownCVMAreOneLineErrors() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let plain = cli.state + "/not-a-repo"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        for args in [["policy", "validate", "--repo", plain], ["policy", "apply", "--repo", plain],
                     ["elastic", "run", "--once", "--repo", plain]] {
            let out = try cli.run(args)
            #expect(out.status == 1, "\(args)")
            #expect(out.errorLines.count == 1, "\(args): \(out.stderr)")
            #expect(out.errorLines.first?.contains("not a git repository") == true, "\(args): \(out.stderr)")
        }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        try repo.commit(PolicyRepoFixture.policy(rule: "maxCVMs: 1"), message: "p")
        let unknown = try cli.run("policy", "plan", "--repo", repo.path, "--ref", "no-such-branch")
        #expect(unknown.status == 1)
        #expect(unknown.errorLines == ["cvmctl: error: 'no-such-branch' is not a commit, branch or tag in \(repo.path); see `git -C \(repo.path) log --oneline`"])
        let explain = try cli.run("explain", "nobody")
        #expect(explain.status == 1)
        #expect(explain.errorLines == ["cvmctl: error: no CVM named 'nobody'; see `cvmctl status`"])
        let both = try cli.run("elastic", "run", "--ref", "main", "--branch", "main")
        #expect(both.status != 0)
        #expect(both.stderr.contains("give --ref or --branch, not both"))
    }

    @Test func anUnreadableUsageFileIsJournaledAndTheEvaluationGoesOn() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1"), message: "p")
        try "{\"task\": \"health-monitor\", \"cpu\": 5}\n".write(toFile: cli.state + "/usage.jsonl", atomically: true, encoding: .utf8)
        let out = try cli.run("elastic", "run", "--once", "--repo", repo.path, "--usage-file", cli.state + "/usage.jsonl", "-q")
        #expect(out.status == 0, "\(out.stderr)")
        let events = try cli.events()
        let measure = try #require(events.first { $0.kind == "elastic.measure" })
        #expect(measure.message.contains("usage.jsonl:1: unknown key 'cpu'"))
        #expect(measure.policyCommit == commit)
        #expect(events.contains { $0.kind == "elastic.decision" && $0.message.contains("no usage observed yet") })
        #expect(try cli.status().cvms.isEmpty)
    }

    @Test func helpDocumentsTheCommandsAndTheSyntheticUsageInput() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let policy = try cli.run("policy", "--help")
        for sub in ["validate", "plan", "apply", "show"] { #expect(policy.stdout.contains(sub), "\(sub)") }
        let elastic = try cli.run("elastic", "run", "--help")
        for text in ["--usage-file", "--recommend-only", "--once", "--branch", "JSON lines", "cpuPercent", "SIGTERM"] {
            #expect(elastic.stdout.contains(text), "\(text)")
        }
        #expect(try cli.run("explain", "--help").stdout.contains("policy commit"))
    }
}
