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

    /// The same through the daemon's API: the plan (a read), the apply as an operation, the
    /// commit in force, the status and the images. An unknown ref: 404; an invalid commit: 409,
    /// nothing applied; a request cannot point the daemon at another repository (an unknown
    /// query parameter is ignored, the daemon's own repository is read).
    @Test func planAndApplyThroughTheAPI() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(PolicyRepoFixture.policy(rule: "minCVMs: 1\nmaxCVMs: 1"), message: "one monitor CVM")
        let admin = try #require(try cli.json([String: String].self, "token", "create", "--name", "ops", "--scope", "admin")["token"])
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "ro", "--scope", "read")["token"])
        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)", "--repo", repo.path], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        try #require(eventually(timeout: 10) { (try? APITests.request(port, "/health"))?.status == 200 })

        #expect(try APITests.request(port, "/v1/policy", token: reader).status == 404, "nothing in force yet")
        let plan = try APITests.request(port, "/v1/policy/plan", token: reader)
        #expect(plan.status == 200 && plan.json?["policyCommit"] as? String == commit, "\(plan.body)")
        let actions = plan.json?["actions"] as? [[String: Any]] ?? []
        #expect(actions.count == 1 && (actions.first?["summary"] as? String ?? "").hasPrefix("deploy health-monitor"), "\(actions)")

        let images = try APITests.request(port, "/v1/images", token: reader).json?["images"] as? [[String: Any]] ?? []
        #expect(images.contains { $0["name"] as? String == "cvm-base" && $0["built"] as? Bool == true })

        // Bad input: 400 with a problem body; a read token may not apply.
        for (path, status, text) in [("/v1/policy/plan?ref=no-such-branch", 404, "no-such-branch"), ("/v1/policy/plan?ref=", 400, "ref must have"),
                                     ("/v1/policy/plan?repo=/etc", 200, "")] {
            let answer = try APITests.request(port, path, token: reader)
            #expect(answer.status == status && (status == 200 || answer.contentType.hasPrefix("application/problem+json"))
                    && (status == 200 ? answer.json?["policyCommit"] as? String == commit : (answer.json?["detail"] as? String ?? "").contains(text)),
                    "\(path): \(answer.contentType) \(answer.body)")
        }
        #expect(try APITests.request(port, "/v1/policy/apply", method: "POST", token: reader, json: "{}").status == 403)
        let broken = try repo.commit(PolicyRepoFixture.policy(rule: "minCVMs: 2\nmaxCVMs: 1"), message: "broken")
        let refused = try APITests.request(port, "/v1/policy/apply", method: "POST", token: admin, json: #"{"ref": "\#(broken)"}"#)
        #expect(refused.status == 409 && (refused.json?["detail"] as? String ?? "").contains("minCVMs"), "\(refused.body)")
        #expect(try APITests.request(port, "/v1/policy", token: reader).status == 404, "the invalid commit is not in force")

        // Apply the good commit as an operation, polled to its end.
        let started = try APITests.request(port, "/v1/policy/apply", method: "POST", token: admin, json: #"{"ref": "\#(commit)"}"#)
        #expect(started.status == 202 && started.json?["kind"] as? String == "policy-apply", "\(started.body)")
        let id = started.json?["id"] as? String ?? ""
        var final: [String: Any] = [:]
        #expect(eventually(timeout: 60) {
            final = (try? APITests.request(port, "/v1/operations/\(id)", token: reader))?.json ?? [:]
            return final["state"] as? String != "running"
        })
        #expect(final["state"] as? String == "succeeded", "\(final)")
        let inForce = try APITests.request(port, "/v1/policy", token: reader)
        #expect(inForce.status == 200 && inForce.json?["commit"] as? String == commit)
        let status = try APITests.request(port, "/v1/status", token: reader)
        let cvms = ((status.json?["report"] as? [String: Any])?["cvms"] as? [[String: Any]]) ?? []
        #expect(status.status == 200 && status.json?["exitCode"] as? Int == 0 && cvms.count == 1, "\(status.body.prefix(1500))")
        let name = cvms.first?["name"] as? String ?? ""
        let placed = try APITests.request(port, "/v1/cvms/\(name)/placements", token: reader).json?["placements"] as? [[String: Any]] ?? []
        #expect(placed.first?["policyCommit"] as? String == commit && placed.first?["origin"] as? String != nil)
        #expect(try cli.run("decommission", name, "--grace", "0").status == 0)
    }
}
