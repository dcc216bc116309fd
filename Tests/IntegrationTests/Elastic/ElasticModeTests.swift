import CVMProtocol
import Foundation
import Orchestrator
import Testing

/// `cvmctl elastic run` against the real libvirtd: synthetic TMS usage (a usage file) drives
/// real CVMs up and down under a policy committed to a real git repository.
@Suite(.serialized) struct ElasticModeTests {
    @Test func risingLoadDeploysARealCVMAndFallingLoadRetiresIt() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1"), message: "offload health monitoring above 50 %")
        let usage = UsageFile(path: cli.state + "/usage.jsonl")
        try usage.write(cpuPercent: 5)

        let elastic = cli.process(["elastic", "run", "--repo", repo.path, "--branch", "main", "--usage-file", usage.path, "--grace", "5", "-q"])
        let log = cli.state + "/elastic.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        elastic.standardError = FileHandle(forWritingAtPath: log)
        elastic.standardOutput = FileHandle.nullDevice
        try elastic.run()
        defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }

        // Low usage: the TMS carries the task, no CVM.
        #expect(try eventually(timeout: 10) { try cli.events().contains { $0.kind == "elastic.decision" && $0.message.contains("run locally") } })
        #expect(try cli.status().cvms.isEmpty)

        // Rising usage: a real CVM is deployed on the local host and heartbeats.
        try usage.write(cpuPercent: 150)
        let up = try eventually(timeout: 45) {
            try cli.status().cvms.contains { $0.state == "running" && ($0.lastHeartbeatAgeSeconds ?? 99) < 3 }
        }
        let log1 = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(up, "no heartbeating CVM after the usage rose; elastic said: \(log1)")
        let cvm = try #require(try cli.status().cvms.first)
        #expect(cvm.host == "local" && cvm.task == "health-monitor")
        #expect(try Store(directory: cli.state).cvm(named: cvm.name)?.policyCommit == commit)

        // Its placement can be explained, with the commit.
        let explained = try cli.run("explain", cvm.name)
        #expect(explained.status == 0)
        #expect(explained.stdout.contains("chosen: local"))
        #expect(explained.stdout.contains("policy commit \(commit)"))
        #expect(explained.stdout.contains("cpuPercent anticipated"))

        // A broken commit on the followed branch is refused; the valid one stays in force.
        let broken = try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1\nminCVMs: 3"), message: "broken")
        #expect(try eventually(timeout: 10) {
            try cli.events().contains { $0.kind == "policy.refused" && $0.message.contains(String(broken.prefix(12))) }
        })
        #expect(try Store(directory: cli.state).appliedPolicy()?.commit == commit)

        // Falling usage: the CVM is retired, leaving nothing behind.
        try usage.write(cpuPercent: 0)
        let down = try eventually(timeout: 45) { try cli.status().cvms.isEmpty }
        #expect(down, "the CVM was not retired after the usage fell")
        #expect(try cli.traces(of: cvm.name) == [])
        let volumes = (try? FileManager.default.contentsOfDirectory(atPath: cli.state + "/local/volumes")) ?? []
        #expect(!volumes.contains { $0.contains(cvm.id) || $0.hasPrefix(cvm.name) })

        // Graceful stop on SIGTERM.
        elastic.terminate()
        let stopped = eventually(timeout: 15) { !elastic.isRunning }
        #expect(stopped)
        if stopped { #expect(elastic.terminationStatus == 0) }

        // The journal has every decision and action with its reason and the commit.
        let events = try cli.events()
        let actions = events.filter { $0.kind == "elastic.action" && $0.cvm == cvm.name }
        #expect(actions.count == 2)
        #expect(actions.first?.message.contains("deploy \(cvm.name)") == true)
        #expect(actions.first?.message.contains("[scale out]") == true)
        #expect(actions.last?.message.contains("decommission \(cvm.name)") == true)
        #expect(actions.last?.message.contains("[scale in]") == true)
        #expect(actions.allSatisfy { $0.policyCommit == commit })
        #expect(events.filter { $0.kind == "elastic.done" && $0.cvm == cvm.name }.count == 2)
        #expect(events.contains { $0.kind == "elastic.stopped" })
        let shown = try cli.run("events", "--last", "500")
        #expect(shown.stdout.contains("elastic.action"))
        #expect(shown.stdout.contains("[policy \(commit.prefix(12))]"))
    }

    @Test func recommendOnlyJournalsWhatItWouldDoAndActsOnNothing() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 2"), message: "p")
        let usage = UsageFile(path: cli.state + "/usage.jsonl")
        try usage.write(cpuPercent: 400)

        let out = try cli.run("elastic", "run", "--once", "--recommend-only", "--repo", repo.path, "--usage-file", usage.path, "-q")
        #expect(out.status == 0, "\(out.stderr)")
        let recommended = try cli.events().filter { $0.kind == "elastic.recommend" }
        #expect(recommended.count == 1)  // maxConcurrentActions 1
        #expect(recommended.first?.message.hasPrefix("would deploy health-monitor") == true)
        #expect(recommended.first?.policyCommit == commit)
        #expect(try cli.status().cvms.isEmpty)
        #expect(try Store(directory: cli.state).appliedPolicy() == nil)  // recommending puts nothing in force
    }

    @Test func aTaskWithAClusterSizeRunsAsACluster() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 2\nclusterSize: 2"), message: "a cluster of two")
        let usage = UsageFile(path: cli.state + "/usage.jsonl")
        try usage.write(cpuPercent: 150)
        let elastic = cli.process(["elastic", "run", "--repo", repo.path, "--branch", "main", "--usage-file", usage.path, "--grace", "5", "-q"])
        elastic.standardOutput = FileHandle.nullDevice
        elastic.standardError = FileHandle.nullDevice
        try elastic.run()
        defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }

        // Two CVMs of the task: one master, one servant, each agent holding its role.
        func members() throws -> [CVMRecord] { try Store(directory: cli.state).members(ofCluster: "health-monitor") }
        let formed = try eventually(timeout: 60) {
            let m = try members()
            return m.count == 2 && m.allSatisfy { $0.state == .running && $0.agentRole == $0.role }
                && Set(m.map(\.role)) == [.master, .servant]
        }
        #expect(formed, "\((try? members().map { "\($0.name) \($0.role)/\($0.agentRole?.rawValue ?? "-") \($0.state)" }) ?? [])")
        // `cluster status` lists it as a policy task's cluster; heal and delete leave it to the planner.
        let listed = try cli.json([ClusterLifecycleTests.Report].self, "cluster", "status")
        #expect(listed.map(\.name) == ["health-monitor"] && listed.first?.healthy == true && listed.first?.members.count == 2)
        let heal = try cli.run("cluster", "heal", "health-monitor")
        #expect(heal.status != 0 && heal.stderr.contains("belongs to policy task"), "\(heal.stderr)")
        let master = try #require(try members().first { $0.role == .master })
        let servant = try #require(try members().first { $0.role == .servant })

        // The master's QEMU dies: the servant is promoted (its agent reports it), and elastic
        // mode replaces the lost CVM with a new servant.
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/\(master.domainName).pid", encoding: .utf8)
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        let recovered = try eventually(timeout: 60) {
            let m = try members()
            guard m.count == 2, m.allSatisfy({ $0.state == .running }) else { return false }
            return m.first { $0.name == servant.name }?.role == .master && m.first { $0.name == servant.name }?.agentRole == .master
                && !m.contains { $0.name == master.name } && m.filter { $0.role == .servant }.allSatisfy { $0.agentRole == .servant }
        }
        #expect(recovered, "\((try? members().map { "\($0.name) \($0.role)/\($0.agentRole?.rawValue ?? "-") \($0.state)" }) ?? [])")
        #expect(try cli.traces(of: master.name) == [])
        elastic.terminate()
        #expect(eventually(timeout: 20) { !elastic.isRunning })
    }

    /// `cvmctl serve --elastic`: the daemon runs elastic mode beside its monitor and API. Rising
    /// usage deploys a real CVM, seen through the API with the placement decision that put it
    /// there; the metrics count the decision, the action and the deploy's duration; falling
    /// usage retires it; SIGTERM stops the whole daemon.
    @Test func theDaemonRunsElasticModeAndShowsItThroughTheAPI() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1"), message: "offload above 50 %")
        let usage = UsageFile(path: cli.state + "/usage.jsonl")
        try usage.write(cpuPercent: 150)
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "ro", "--scope", "read")["token"])
        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)", "--elastic", "--repo", repo.path, "--branch", "main",
                                         "--usage-file", usage.path, "--grace", "5"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        func log() -> String { (try? String(contentsOfFile: cli.state + "/serve.log", encoding: .utf8)) ?? "" }

        // Deployed by the daemon's elastic mode, running, seen through the API.
        var name = ""
        #expect(eventually(timeout: 60) {
            let cvms = (try? APITests.request(port, "/v1/cvms?state=running", token: reader))?.json?["cvms"] as? [[String: Any]] ?? []
            name = cvms.first?["name"] as? String ?? ""
            return !name.isEmpty && (cvms.first?["lastHeartbeatAgeSeconds"] as? Double ?? 99) < 3
        }, "no CVM deployed by the daemon: \(log())")
        let placements = try APITests.request(port, "/v1/cvms/\(name)/placements", token: reader).json?["placements"] as? [[String: Any]] ?? []
        #expect(placements.count == 1 && placements.first?["origin"] as? String == "elastic"
                && placements.first?["policyCommit"] as? String == commit && placements.first?["host"] as? String == "local", "\(placements)")
        #expect((placements.first?["explanation"] as? String ?? "").contains("local"))

        let metrics = try APITests.request(port, "/metrics", token: reader).body
        for line in [#"cvmctl_elastic_actions_total{outcome="done"} 1"#, #"cvmctl_deploy_duration_seconds_count{host="local"} 1"#,
                     #"cvmctl_host_allocated_vcpus{host="local"} 1"#] {
            #expect(metrics.contains(line), "\(line) in \(metrics.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n").prefix(3000))")
        }
        #expect(metrics.contains("cvmctl_elastic_decisions_total{kind=\"decision\"}"))
        let (promtool, verdict) = try APITests.promtool(metrics)
        #expect(promtool == 0 && verdict.isEmpty, "promtool check metrics: \(verdict)")

        // Falling usage: the daemon retires it.
        try usage.write(cpuPercent: 5)
        #expect(eventually(timeout: 60) {
            ((try? APITests.request(port, "/v1/cvms", token: reader))?.json?["cvms"] as? [[String: Any]])?.isEmpty == true
        }, "the CVM was not retired: \(log())")
        daemon.stopAndWait()
        #expect(daemon.terminationStatus == 0, "\(log())")
        #expect(try cli.events().contains { $0.kind == "elastic.stopped" })
    }
}
