import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing

/// The backup vServer offloaded by elastic mode itself: `cvmctl tms run` reports the
/// vServer's connections under policy task `backup-vserver`, `cvmctl elastic run` reads them
/// from the admin endpoint, deploys a cvm-tms CVM when the anticipated usage crosses the
/// policy's threshold, the traffic manager serves it and adds it to the backup vServer, and
/// spilled connections go through it; when usage falls, the CVM is drained (it leaves the
/// vServer's set, its open connection keeps working until it ends) and decommissioned.
@Suite(.serialized) struct ElasticBackupTests {
    typealias Client = CVMBackupTests.Client

    @Test func spilloverDeploysABackupCVMAndFallingUsageDrainsAndRetiresIt() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }

        let backend = try SegmentBackend()
        defer { backend.stop() }
        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        // Two connections fill the primary; its usage and the backup's count for the task.
        try """
        cores: 1
        admin:
          address: 127.0.0.1:\(admin)
        usage:
          interval: 200ms
          window: 30
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: http
            task: backup-vserver
            services: [{ name: direct, address: \(backend.address), port: \(backend.port), capacity: 10 }]
            spillover: { kind: connection, limit: 2, backup: web-cvm }
          - name: web-cvm
            mode: http
            task: backup-vserver
            cvm: { task: backup-vserver, port: 8090, capacity: 50 }
            services: [{ name: direct, address: \(backend.address), port: \(backend.port), capacity: 50 }]

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tmsLog = cli.state + "/tms.log"
        let tms = try cli.background(["tms", "run", "--config", config], log: tmsLog)
        defer { tms.stopAndWait() }
        func tmsText() -> String { (try? String(contentsOfFile: tmsLog, encoding: .utf8)) ?? "" }
        try #require(eventually(timeout: 10) { FileManager.default.fileExists(atPath: cli.state + "/tms-admin.token") })

        // The reference: a plain deploy of the same image, first heartbeat included, with the
        // traffic manager running as it will be for the elastic one (like with like: on this
        // 2-core machine its polling and sampling slow a TCG boot). Its task is one the traffic
        // manager does not serve.
        let referenceStart = Date()
        let reference = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "reference")
        let plainDeploy = Date().timeIntervalSince(referenceStart)
        try #require(reference.status == 0, "\(reference.stderr)")
        #expect(try cli.run("decommission", "reference", "--grace", "0").status == 0)

        // One connection's worth of headroom: above 1.5 anticipated connections, offload.
        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit(
            PolicyRepoFixture.policy(task: "backup-vserver", rule: "thresholds: {connections: 1.5}\nmaxCVMs: 1")
                .replacingOccurrences(of: "image: cvm-base", with: "image: cvm-tms"),
            message: "backup vServer in a CVM above 1.5 connections")
        let elasticLog = cli.state + "/elastic.log"
        let elastic = try cli.background(["elastic", "run", "--repo", repo.path, "--branch", "main",
                                      "--tms-admin", "127.0.0.1:\(admin)", "--grace", "5", "--drain-timeout", "40", "-v"],
                                log: elasticLog)
        defer { elastic.stopAndWait() }
        func elasticText() -> String { (try? String(contentsOfFile: elasticLog, encoding: .utf8)) ?? "" }
        try #require(try eventually(timeout: 15) {
            try cli.events().contains { $0.kind == "elastic.decision" && $0.message.contains("backup-vserver") && $0.message.contains("run locally") }
        }, "\(elasticText().suffix(2000))")
        #expect(try cli.status().cvms.isEmpty)

        // The primary fills up: the spillover threshold is crossed.
        let first = try Client(port: port)
        #expect(try first.get("/1").body.hasPrefix("peer=10.77.0.1 "))
        let crossed = Date()
        let second = try Client(port: port)
        #expect(try second.get("/2").body.hasPrefix("peer=10.77.0.1 "))

        // Elastic mode deploys a cvm-tms CVM; the traffic manager serves it and adds it.
        var servingAt: Date?
        let added = eventually(timeout: 60) {
            _ = try? first.get("/keep")
            _ = try? second.get("/keep")
            guard tmsText().contains("CVM services of vServer web-cvm: backup-vserver-") else { return false }
            servingAt = Date()
            return true
        }
        try #require(added, "no backup CVM was added; elastic: \(elasticText().suffix(3000)); tms: \(tmsText().suffix(2000))")
        let reaction = servingAt!.timeIntervalSince(crossed)
        print(String(format: "ElasticBackupTests: threshold crossed -> CVM backup serving in %.1f s; plain deploy of cvm-tms %.1f s (adds %.1f s, ratio %.2f)",
                     reaction, plainDeploy, reaction - plainDeploy, reaction / plainDeploy))
        #expect(reaction < 40)
        let cvm = try #require(try cli.status().cvms.first)
        // Where the time went: decision, deploy (to the first heartbeat), serve, adoption.
        let journal = try cli.events()
        if let action = journal.first(where: { $0.kind == "elastic.action" && $0.cvm == cvm.name }),
           let done = journal.first(where: { $0.kind == "elastic.done" && $0.cvm == cvm.name }) {
            let serve = tmsText().split(separator: "\n").first { $0.contains("CVM \(cvm.name) serving at") }.map(String.init) ?? "?"
            print(String(format: "ElasticBackupTests: decided after %.1f s, deployed in %.1f s, then serving and adopted after %.1f s (%@)",
                         action.at.timeIntervalSince(crossed), done.at.timeIntervalSince(action.at), servingAt!.timeIntervalSince(done.at),
                         String(serve.suffix(60))))
        }
        #expect(cvm.task == "backup-vserver" && cvm.serving == true)
        let cvmAddress = try #require(cvm.address)

        // Spilled connections now go through the CVM (it is the backend's peer).
        let spilled = try Client(port: port)
        for i in 0..<5 {
            let response = try spilled.get("/s\(i)")
            #expect(response.status == 200 && response.body.hasPrefix("peer=\(cvmAddress) "), "\(response.body.prefix(40))")
        }

        // Why: the journal, `cvmctl explain` and `cvmctl tms usage` say it.
        let explained = try cli.run("explain", cvm.name)
        #expect(explained.stdout.contains("policy commit \(commit)"), "\(explained.stdout)")
        #expect(explained.stdout.contains("connections anticipated"), "\(explained.stdout)")
        let usage = try cli.run("tms", "usage", "--admin", "127.0.0.1:\(admin)")
        #expect(usage.status == 0 && usage.stdout.contains("backup-vserver"), "\(usage.stdout) \(usage.stderr)")
        #expect(usage.stdout.contains(cvm.name), "the usage report names the CVMs serving the vServer: \(usage.stdout)")

        // The backup CVM's QEMU is killed under load: the traffic manager stops choosing it
        // within 3 s, only the connection that was on it is lost, and elastic mode replaces it
        // (the primary's connections still hold the usage above the threshold).
        let logBefore = tmsText().utf8.count
        let killed = Date()
        let droppedAfter = try CVMBackupTests.killQEMU(of: cvm.name, log: tmsText) ?? -1
        #expect(droppedAfter >= 0 && droppedAfter < 3, "took \(droppedAfter) s: \(tmsText().suffix(1500))")
        #expect((try? spilled.get("/lost")) == nil, "the connection that was on the killed CVM is gone")
        #expect(try first.get("/still").body.hasPrefix("peer=10.77.0.1 "), "the primary's connections are untouched")
        var replacement: CVMStatus?
        let replaced = try eventually(timeout: 60) {
            _ = try? first.get("/keep")
            _ = try? second.get("/keep")
            replacement = try cli.status().cvms.first { $0.name != cvm.name && $0.serving == true && $0.state == "running" }
            guard let replacement else { return false }
            return String(decoding: tmsText().utf8.dropFirst(logBefore), as: UTF8.self).contains("CVM services of vServer web-cvm: \(replacement.name)")
        }
        let replacedAfter = Date().timeIntervalSince(killed)
        let journalTail = try cli.events().filter { $0.kind.hasPrefix("elastic") }.suffix(8).map(\.message)
        try #require(replaced, "the killed backup CVM was not replaced: \(journalTail)")
        print(String(format: "ElasticBackupTests: backup CVM killed -> dropped by the traffic manager in %.1f s, replacement serving in %.1f s", droppedAfter, replacedAfter))
        let backup = try #require(replacement)
        let backupAddress = try #require(backup.address)
        let spilledAgain = try Client(port: port)
        #expect(try spilledAgain.get("/r").body.hasPrefix("peer=\(backupAddress) "))
        // (The failed CVM is removed, and the new one deployed as a replacement or, when the
        // removal came first, as the scale-out the usage asks for.)
        #expect(try cli.events().contains { $0.kind == "elastic.action" && $0.cvm == backup.name && $0.message.contains("deploy ") })

        // Usage falls: the primary's connections end; the one through the CVM stays open.
        try first.closeNow()
        try second.closeNow()
        let stopping = try eventually(timeout: 40) {
            _ = try? spilledAgain.get("/hold")
            return try cli.status().cvms.first { $0.name == backup.name }?.state == "stopping"
        }
        if !stopping {
            let journal = try cli.events().filter { $0.kind.hasPrefix("elastic") }.suffix(12).map { "\($0.kind): \($0.message)" }
            let now = try cli.run("tms", "usage", "--admin", "127.0.0.1:\(admin)").stdout
            Issue.record("the CVM was not scaled in: \(journal); usage: \(now)")
            return
        }
        // Draining: out of the vServer's set, its open connection still served.
        #expect(eventually(timeout: 5) { tmsText().hasSuffix("CVM services of vServer web-cvm: none\n") }, "\(tmsText().suffix(1500))")
        for i in 0..<3 {
            let response = try spilledAgain.get("/drain\(i)")
            #expect(response.status == 200 && response.body.hasPrefix("peer=\(backupAddress) "))
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(try cli.status().cvms.first { $0.name == backup.name }?.state == "stopping", "decommissioned while a connection was still open")
        let closed = Date()
        try spilledAgain.closeNow()
        let gone = try eventually(timeout: 30) { try cli.status().cvms.isEmpty }
        #expect(gone, "the drained CVM was not decommissioned: \(elasticText().suffix(2000))")
        print(String(format: "ElasticBackupTests: last connection closed -> CVM gone in %.1f s", Date().timeIntervalSince(closed)))
        let events = try cli.events()
        #expect(events.contains { $0.kind == "decommission.drained" && $0.cvm == backup.name && $0.message.contains("drained 1 connections") },
                "\(events.filter { $0.cvm == backup.name }.map { "\($0.kind): \($0.message)" })")
        #expect(events.contains { $0.kind == "elastic.done" && $0.cvm == backup.name && $0.message.contains("drained") })
        let actions = events.filter { $0.kind == "elastic.action" && $0.cvm == cvm.name }
        #expect(actions.first?.message.contains("[scale out]") == true, "\(actions.map(\.message))")
        #expect(events.filter { $0.kind == "elastic.action" && $0.cvm == backup.name }.last?.message.contains("[scale in]") == true)
    }
}
