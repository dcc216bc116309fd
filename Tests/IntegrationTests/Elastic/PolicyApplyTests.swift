import Foundation
import Orchestrator
import Testing

/// `cvmctl policy validate|plan|apply` on a real git repository and the real libvirtd.
@Suite(.serialized) struct PolicyApplyTests {
    @Test func applyCarriesThePlanOutRefusesInvalidCommitsAndRetiresWhatThePolicyDrops() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let first = try repo.commit(PolicyRepoFixture.policy(rule: "minCVMs: 1\nmaxCVMs: 1"), message: "one monitor CVM")

        let plan = try cli.run("policy", "plan", "--repo", repo.path)
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("plan for policy commit \(first)"))
        #expect(plan.stdout.contains("deploy health-monitor (image cvm-base, 1 vCPU, 128 MiB) on local [scale out]"))
        #expect(plan.stdout.contains("because no offload thresholds; bounds minCVMs 1 ... maxCVMs 1"))

        let applied = try cli.run("policy", "apply", "--repo", repo.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.contains("done: deployed health-monitor-"))
        let cvm = try #require(try cli.status().cvms.first)
        #expect(cvm.state == "running")
        let store = try Store(directory: cli.state)
        #expect(try store.cvm(named: cvm.name)?.policyCommit == first)
        #expect(try store.appliedPolicy()?.commit == first)
        let explained = try cli.run("explain", cvm.name)
        #expect(explained.stdout.contains("deploy on local by apply"))
        #expect(explained.stdout.contains("policy commit \(first)"))

        // Applying again changes nothing.
        let again = try cli.run("policy", "apply", "--repo", repo.path)
        #expect(again.status == 0)
        #expect(again.stdout.contains("nothing to change"))

        // An invalid commit: validate lists every error; apply refuses it and the first stays in force.
        let bad = try repo.commit(PolicyRepoFixture.policy(rule: "minCVMs: 2\nmaxCVMs: 1\nmaxCVM: 3"), message: "broken")
        let validated = try cli.run("policy", "validate", "--repo", repo.path)
        #expect(validated.status == 1)
        #expect(validated.stdout.split(separator: "\n").map(String.init) == [
            "policies/policy.yaml:9:14: error: tasks.health-monitor.minCVMs: minCVMs 2 > maxCVMs 1",
            "policies/policy.yaml:11:5: error: tasks.health-monitor.maxCVM: unknown key 'maxCVM'; did you mean 'maxCVMs'?",
        ])
        #expect(validated.errorLines == ["cvmctl: error: policy commit \(bad.prefix(12)) (HEAD) has 2 errors; it would be refused"])
        let refused = try cli.run("policy", "apply", "--repo", repo.path)
        #expect(refused.status == 1)
        #expect(refused.errorLines.count == 1)
        #expect(refused.errorLines.first?.contains("policy commit \(first.prefix(12)) stays in force") == true)
        #expect(try store.appliedPolicy()?.commit == first)
        #expect(try cli.events().contains { $0.kind == "policy.refused" && $0.policyCommit == first })
        #expect(try cli.status().cvms.map(\.name) == [cvm.name])

        // A commit that drops the task: its CVM is decommissioned, recorded with that commit.
        let dropped = try repo.commit(PolicyRepoFixture.policy(task: "log-collector", rule: "maxCVMs: 1"), message: "no monitor")
        let retired = try cli.run("policy", "apply", "--repo", repo.path)
        #expect(retired.status == 0, "\(retired.stderr)")
        #expect(retired.stdout.contains("done: decommissioned \(cvm.name)"))
        #expect(try cli.status().cvms.isEmpty)
        #expect(try cli.traces(of: cvm.name) == [])
        let decommission = try #require(try cli.events().last { $0.kind == "apply.action" })
        #expect(decommission.message.contains("[compliance] — task health-monitor is not in the policy any more"))
        #expect(decommission.policyCommit == dropped)
        #expect(try store.appliedPolicy()?.commit == dropped)
    }
}
