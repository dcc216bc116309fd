import Foundation
import Orchestrator
import Testing

/// Clusters of real CVMs on the local libvirtd, through the `cvmctl` binary: create, the loss
/// of the master (its QEMU killed) promoting the servant while `cvmctl monitor` runs, heal
/// replacing the lost member, delete leaving nothing; and bad input leaving nothing.
@Suite(.serialized) struct ClusterLifecycleTests {
    struct Report: Decodable {
        var name: String
        var master: String?
        var running: Int
        var healthy: Bool
        var members: [Member]
        func member(_ name: String) -> Member? { members.first { $0.name == name } }
    }

    struct Member: Decodable {
        var name: String
        var role: String
        var agentRole: String?
        var host: String
        var state: String
    }

    struct Heal: Decodable {
        struct Replacement: Decodable { var lost: String; var replacement: String }
        var promoted: String?
        var replaced: [Replacement]
        var unreachable: [String]
    }

    func cluster(_ cli: CLIHarness, _ name: String) throws -> Report {
        try cli.json([Report].self, "cluster", "status", name).first!
    }

    @Test func createLoseTheMasterHealDelete() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let created = try cli.json(Report.self, "cluster", "create", "web", "--image", "cvm-base", "--size", "2")
        #expect(created.master == "web-1" && created.running == 2 && created.healthy)
        #expect(created.members.map(\.role) == ["master", "servant"])
        // The agents hold the roles they were deployed with (reported in their heartbeats).
        #expect(created.members.map(\.agentRole) == ["master", "servant"])

        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })
        // Watched for a while (web-1's last heartbeat was seconds old when the monitor
        // started): nothing failed, nobody promoted.
        Thread.sleep(forTimeInterval: 4)
        let watched = try cluster(cli, "web")
        #expect(watched.healthy && watched.master == "web-1", "\(watched.members)")

        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-web-1.pid", encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        // The monitor fails web-1, promotes web-2, and web-2's agent takes the role.
        let promoted = try eventually(timeout: 20) {
            let report = try cluster(cli, "web")
            return report.master == "web-2" && report.member("web-2")?.agentRole == "master"
        }
        let afterLoss = try cluster(cli, "web")
        #expect(promoted, "web-2 not promoted: \(afterLoss.members)")
        #expect(afterLoss.member("web-1")?.state == "failed")
        #expect(afterLoss.member("web-1")?.role == "servant", "the lost master is no longer the master")
        #expect(!afterLoss.healthy)
        let events = try cli.run("events", "--json")
        #expect(events.stdout.contains("cluster.promote"))

        let heal = try cli.json(Heal.self, "cluster", "heal", "web")
        #expect(heal.promoted == nil, "the monitor promoted already")
        #expect(heal.replaced.map(\.lost) == ["web-1"] && heal.replaced.map(\.replacement) == ["web-3"])
        #expect(heal.unreachable.isEmpty)
        let healed = try cluster(cli, "web")
        #expect(healed.healthy && healed.master == "web-2")
        #expect(healed.members.map(\.name) == ["web-2", "web-3"])
        #expect(healed.member("web-3")?.role == "servant")
        #expect(try eventually(timeout: 5) { try cluster(cli, "web").member("web-3")?.agentRole == "servant" })
        #expect(try cli.traces(of: "web-1") == [])
        // Whole again: a second heal changes nothing.
        let again = try cli.run("cluster", "heal", "web")
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again.stdout)\(again.stderr)")

        let deleted = try cli.run("cluster", "delete", "web")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        for name in ["web-1", "web-2", "web-3"] { #expect(try cli.traces(of: name) == []) }
        #expect(try cli.json([Report].self, "cluster", "status").isEmpty)
    }

    @Test func elasticModeReplacesALostServant() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let created = try cli.json(Report.self, "cluster", "create", "db", "--image", "cvm-base", "--size", "2")
        #expect(created.healthy)
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        try repo.commit(PolicyRepoFixture.policy(rule: "thresholds: {cpuPercent: 50}\nmaxCVMs: 1"), message: "policy")
        let usage = UsageFile(path: cli.state + "/usage.jsonl")
        try usage.write(cpuPercent: 5)

        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        let elastic = cli.process(["elastic", "run", "--repo", repo.path, "--branch", "main", "--usage-file", usage.path, "-q"])
        elastic.standardOutput = FileHandle.nullDevice
        elastic.standardError = FileHandle.nullDevice
        try elastic.run()
        defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }
        #expect(try eventually(timeout: 10) { try cli.events().contains { $0.kind == "elastic.started" } })

        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-db-2.pid", encoding: .utf8)
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        // Failed by the monitor, replaced by elastic mode: db-3 deployed, db-2 gone.
        let healed = try eventually(timeout: 60) {
            let report = try cluster(cli, "db")
            return report.healthy && report.members.map(\.name) == ["db-1", "db-3"]
        }
        let members = (try? cluster(cli, "db").members.map { "\($0.name) \($0.role) \($0.state)" }) ?? []
        #expect(healed, "not healed: \(members)")
        #expect(try cluster(cli, "db").master == "db-1", "the master stayed")
        #expect(try cli.traces(of: "db-2") == [])
        let events = try cli.events()
        #expect(events.contains { $0.kind == "elastic.heal" && $0.message.contains("failed: db-2") })
        #expect(events.contains { $0.kind == "elastic.healed" && $0.message.contains("replaced db-2 with db-3") })
        // The policy's own task was never touched: no CVM outside the cluster.
        #expect(try cli.status().cvms.map(\.name).sorted() == ["db-1", "db-3"])
        elastic.terminate()
        #expect(eventually(timeout: 15) { !elastic.isRunning })
        #expect(try cli.run("cluster", "delete", "db").status == 0)
    }

    @Test func elasticModeAloneRecoversFromALostMaster() throws {
        // No separate monitor: elastic mode runs its own, which promotes; elastic heals.
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.json(Report.self, "cluster", "create", "kv", "--image", "cvm-base", "--size", "2").healthy)
        let elastic = try cli.startQuietElastic()
        defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })
        Thread.sleep(forTimeInterval: 2)

        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-kv-1.pid", encoding: .utf8)
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        let healed = try eventually(timeout: 60) {
            let report = try cluster(cli, "kv")
            return report.healthy && report.master == "kv-2" && report.members.map(\.name) == ["kv-2", "kv-3"]
                && report.member("kv-2")?.agentRole == "master" && report.member("kv-3")?.agentRole == "servant"
        }
        let members = (try? cluster(cli, "kv").members.map { "\($0.name) \($0.role)/\($0.agentRole ?? "-") \($0.state)" }) ?? []
        #expect(healed, "not recovered: \(members)")
        elastic.terminate()
        #expect(eventually(timeout: 20) { !elastic.isRunning })
        #expect(elastic.terminationStatus == 0)
        #expect(try cli.run("cluster", "delete", "kv").status == 0)
    }

    /// A `cluster create` killed while its second member deploys leaves a half-made cluster:
    /// `cluster status` says it is not healthy, and one `cluster heal` makes it whole —
    /// removing the member the killed create left `deploying` (its domain and volume too)
    /// and deploying the missing ones. A second heal has nothing to do.
    @Test func aCreateKilledMidwayIsHealedByOneHeal() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let create = cli.process(["cluster", "create", "half", "--image", "cvm-base", "--size", "3", "-q"])
        create.standardOutput = FileHandle.nullDevice
        create.standardError = FileHandle.nullDevice
        try create.run()
        let store = try Store(directory: cli.state)
        let caught = try eventually(timeout: 60) { try store.cvm(named: "half-2")?.state == .deploying }
        kill(create.processIdentifier, SIGKILL)
        create.waitUntilExit()
        try #require(caught, "half-2 never showed up deploying")

        let before = try cluster(cli, "half")
        #expect(!before.healthy, "\(before.members.map { "\($0.name) \($0.state)" })")
        let heal = try cli.run("cluster", "heal", "half")
        #expect(heal.status == 0, "\(heal.stderr)")
        #expect(heal.stdout.contains("half-2"), "heal did not say what it removed: \(heal.stdout)")
        let after = try cluster(cli, "half")
        #expect(after.healthy && after.running == 3 && after.master == "half-1",
                "\(after.members.map { "\($0.name) \($0.role) \($0.state)" })")
        #expect(after.member("half-2") == nil)
        #expect(try cli.traces(of: "half-2") == [])
        let again = try cli.run("cluster", "heal", "half")
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again.stdout)\(again.stderr)")

        #expect(try cli.run("cluster", "delete", "half").status == 0)
        for member in after.members { #expect(try cli.traces(of: member.name) == []) }
    }

    @Test func badInputLeavesNothing() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        func refused(_ arguments: String..., saying needle: String) throws {
            let out = try cli.run(arguments)
            #expect(out.status != 0, "\(arguments) succeeded")
            #expect(out.errorLines.count == 1 || out.stderr.contains("Error:"), "\(out.stderr)")
            #expect(out.stderr.contains(needle), "\(arguments): \(out.stderr)")
        }
        try refused("cluster", "create", "c", "--image", "no-such-image", "--size", "2", saying: "no-such-image")
        try refused("cluster", "create", "c", "--image", "cvm-base", "--size", "0", saying: "--size")
        try refused("cluster", "create", "C_1", "--image", "cvm-base", "--size", "1", saying: "invalid cluster name")
        try refused("cluster", "create", "c", "--image", "cvm-base", "--size", "1", "--host", "mars", saying: "mars")
        try refused("cluster", "heal", "nope", saying: "no cluster named 'nope'")
        try refused("cluster", "delete", "nope", saying: "no cluster named 'nope'")
        // The first member never heartbeats in time: rolled back, the cluster forgotten.
        try refused("cluster", "create", "slow", "--image", "cvm-base", "--size", "2", "--timeout", "0.2", saying: "heartbeat")
        #expect(try cli.json([Report].self, "cluster", "status").isEmpty)
        #expect(try cli.status().cvms.isEmpty)
        for name in ["slow-1", "slow-2"] { #expect(try cli.traces(of: name) == []) }
        // A cluster another live process is changing: heal and delete refuse, nothing changes.
        let store = try Store(directory: cli.state)
        try store.insert(ClusterRecord(name: "busy", image: "cvm-base", task: "health-monitor", size: 1, hosts: ["local"],
                                       nextOrdinal: 2, createdAt: Date(), ownerPid: getpid()))
        try refused("cluster", "heal", "busy", saying: "is being changed by process \(getpid())")
        try refused("cluster", "delete", "busy", saying: "is being changed by process \(getpid())")
        #expect(try store.cluster(named: "busy")?.nextOrdinal == 2 && store.cluster(named: "busy")?.ownerPid == getpid())
        #expect(try cli.status().cvms.isEmpty)
        try store.deleteCluster(named: "busy")
        // A member name already taken by another CVM: refused before anything is created.
        _ = try cli.run("deploy", "--image", "cvm-base", "--name", "taken-2")
        try refused("cluster", "create", "taken", "--image", "cvm-base", "--size", "2", saying: "taken-2")
        #expect(try cli.status().cvms.map(\.name) == ["taken-2"])
        #expect(try cli.json([Report].self, "cluster", "status").isEmpty)
    }

    /// Through the daemon's API: create, heal and delete as operations; a create whose
    /// members never heartbeat in time ends failed with nothing left; bad input is a 400 and a
    /// read token a 403; the journal filtered by time.
    @Test func createHealDeleteThroughTheAPI() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let admin = try #require(try cli.json([String: String].self, "token", "create", "--name", "ops", "--scope", "admin")["token"])
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "ro", "--scope", "read")["token"])
        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        try #require(eventually(timeout: 10) { (try? APITests.request(port, "/health"))?.status == 200 })
        let started = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-1))

        /// Starts an operation and polls it to its end: its final state.
        func run(_ method: String, _ path: String, json: String? = nil) throws -> [String: Any] {
            let answer = try APITests.request(port, path, method: method, token: admin, json: json)
            guard answer.status == 202, let id = answer.json?["id"] as? String else { return ["status": answer.status, "body": answer.body] }
            var final: [String: Any] = [:]
            _ = eventually(timeout: 90) {
                final = (try? APITests.request(port, "/v1/operations/\(id)", token: reader))?.json ?? [:]
                return final["state"] as? String != "running"
            }
            return final
        }

        let created = try run("POST", "/v1/clusters", json: #"{"name": "api", "image": "cvm-base", "size": 2}"#)
        #expect(created["state"] as? String == "succeeded" && created["kind"] as? String == "cluster-create", "\(created)")
        let cluster = try APITests.request(port, "/v1/clusters/api", token: reader).json ?? [:]
        let members = (cluster["members"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["role"] as? String ?? "") }
        #expect(members.map(\.0) == ["api-1", "api-2"] && members.map(\.1) == ["master", "servant"], "\(cluster)")
        let healed = try run("POST", "/v1/clusters/api/heal")
        #expect(healed["state"] as? String == "succeeded" && (healed["result"] as? String ?? "").contains("nothing to do"), "\(healed)")

        // Bad input, and a read token that writes.
        #expect(try run("POST", "/v1/clusters", json: #"{"name": "x", "image": "cvm-base", "size": 0}"#)["status"] as? Int == 400)
        #expect(try run("POST", "/v1/clusters/nope/heal")["status"] as? Int == 404)
        #expect(try run("DELETE", "/v1/clusters/nope")["status"] as? Int == 404)
        #expect(try APITests.request(port, "/v1/clusters/api", method: "DELETE", token: reader).status == 403)
        let slow = try run("POST", "/v1/clusters", json: #"{"name": "slow", "image": "cvm-base", "size": 2, "timeoutSeconds": 1}"#)
        #expect(slow["state"] as? String == "failed", "\(slow)")

        // The journal since the test began, by time: the cluster's events are there.
        let events = try APITests.request(port, "/v1/events?since=\(started)&kind=cluster.&limit=1000", token: reader).json?["events"] as? [[String: Any]] ?? []
        #expect(events.contains { ($0["message"] as? String ?? "").contains("api") }, "\(events)")
        #expect((try APITests.request(port, "/v1/events?since=2999-01-01T00:00:00Z", token: reader).json?["events"] as? [[String: Any]])?.isEmpty == true)

        let deleted = try run("DELETE", "/v1/clusters/api")
        #expect(deleted["state"] as? String == "succeeded", "\(deleted)")
        for name in ["api-1", "api-2", "slow-1", "slow-2"] { #expect(try cli.traces(of: name) == [], "\(name)") }
        #expect((try APITests.request(port, "/v1/clusters", token: reader).json?["clusters"] as? [[String: Any]])?.isEmpty == true)
    }
}
