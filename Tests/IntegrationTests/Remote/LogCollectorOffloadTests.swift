import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing
import TrafficManager

/// The access log offloaded to a log-collector CVM (image cvm-tms, task log-collector):
/// `cvmctl tms run` serves the CVM a collector, streams every connection's record to it over
/// mutual TLS from a spool on disk, and the collector keeps them in compressed segments on its
/// own disk. The collector is killed, replaced by another, and that one live-migrated to a
/// test-bed host, all while connections go on; the collector then holds every record exactly
/// once, and `cvmctl logs query` finds them.
@Suite(.serialized) struct LogCollectorOffloadTests {
    @Test func everyConnectionIsLoggedOnceAcrossAKillAReplacementAndAMigration() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.environment["CVM_MIGRATION_ADDRESS"] = "10.200.0.1"
        #expect(try cli.addTestBedHost("cloud", index: 0).status == 0)
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "log-collector", "--name", "logs1")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let backend = try SegmentBackend()
        defer { backend.stop() }
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }

        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        try """
        cores: 2
        admin: { address: 127.0.0.1:\(admin) }
        accessLog:
          spool: { dir: \(cli.state)/spool, maxBytes: 8388608 }
          cvm: { task: log-collector, port: 7480 }
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: http
            services:
              - { name: a, address: \(backend.address), port: 9000, capacity: 50 }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let logText = tms.text
        func address(of name: String) throws -> String? { try cli.status().cvms.first { $0.name == name }?.address }

        let first = try #require(try address(of: "logs1"))
        try #require(try eventually(timeout: 40) { logText().contains("access log shipped to the log-collector CVM at \(first):7480") },
                     "never shipped: \(logText().suffix(3000))")

        /// `count` requests, each on a new connection, each answer checked.
        var sent = 0
        var clientEnds = [String: Int]()
        func requests(_ count: Int, tag: String) throws {
            for i in 0..<count {
                let client = try CVMBackupTests.Client(port: port)
                clientEnds[client.localAddress, default: 0] += 1
                let response = try client.get("/\(tag)/\(i)")
                #expect(response.status == 200 && response.body.hasPrefix("peer=10.77.0.1 "), "\(response.status) \(response.body.prefix(60))")
                sent += 1
            }
        }
        func collected() -> Int? {
            let out = try? cli.run("logs", "query", "--count")
            return out?.status == 0 ? Int(out!.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) : nil
        }

        try requests(100, tag: "one")
        #expect(try eventually(timeout: 15) { collected() == sent }, "collector has \(collected() ?? -1) of \(sent)")

        // The collector is killed: records are spooled meanwhile.
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-logs1.pid", encoding: .utf8)
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        try requests(100, tag: "two")
        #expect(try eventually(timeout: 15) { try cli.status().cvms.first { $0.name == "logs1" }?.state == "failed" })

        // A replacement (empty disk) gets the spool's history and what came meanwhile.
        let replaced = try cli.run("deploy", "--image", "cvm-tms", "--task", "log-collector", "--name", "logs2")
        try #require(replaced.status == 0, "\(replaced.stderr)")
        let second = try #require(try address(of: "logs2"))
        try #require(try eventually(timeout: 40) { logText().contains("access log shipped to the log-collector CVM at \(second):7480") },
                     "never shipped to the replacement: \(logText().suffix(3000))")
        #expect(try eventually(timeout: 20) { collected() == sent }, "replacement has \(collected() ?? -1) of \(sent)")

        // Live-migrated to a test-bed host while connections go on.
        final class Background: @unchecked Sendable { var error: (any Error)?; var done = 0; var ends = [String]() }
        let background = Background()
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { finished.signal() }
            do {
                for i in 0..<150 {
                    let client = try CVMBackupTests.Client(port: port)
                    let response = try client.get("/three/\(i)")
                    background.ends.append(client.localAddress)
                    guard response.status == 200 else { throw HarnessError.failed("status \(response.status)") }
                    background.done += 1
                    usleep(20_000)
                }
            } catch { background.error = error }
        }
        let moved = try cli.run("migrate", "logs2", "--to", "cloud")
        finished.wait()
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(background.error == nil, "\(String(describing: background.error))")
        sent += background.done
        for end in background.ends { clientEnds[end, default: 0] += 1 }
        #expect(try cli.status().cvms.first { $0.name == "logs2" }?.host == "cloud")
        // The guest's own kernel may crash after the live migration (this machine's QEMU 7.2
        // under TCG, see CVMBackupTests): then what needs the collector after the move is a
        // known, intermittent issue, reported with the guest's words; any other failure fails.
        let (console, guestCrash) = CVMBackupTests.guestCrash(cli, cvm: "logs2")
        if let guestCrash { print("LogCollectorOffload: the guest's kernel crashed after the migration: \(guestCrash.suffix(160))") }
        try withKnownIssue("the guest's kernel crashed after a TCG live migration: \(guestCrash.map { String($0.suffix(120)) } ?? "")",
                           isIntermittent: true) {
            try checkAfterTheMigration()
        } when: {
            guestCrash != nil
        }

        func checkAfterTheMigration() throws {
            #expect(try eventually(timeout: 20) { collected() == sent },
                    "after the migration the collector has \(collected() ?? -1) of \(sent); console: \(console.suffix(1500))")
            print("LogCollectorOffload: \(sent) connections; collector killed, replaced and migrated; records collected: \(collected() ?? -1)")

            // Every record once, each with its outcome and bytes.
            let listed = try cli.run("logs", "query", "--limit", "10000", "--json")
            try #require(listed.status == 0, "\(listed.stderr)")
            let records = try listed.stdout.split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            #expect(records.count == sent)
            #expect(records.allSatisfy { $0["outcome"] as? String == "served" && $0["vServer"] as? String == "web" && ($0["bytesIn"] as? Int ?? 0) > 0 })
            // Each connection's record once: the records' client ends are the ends the test's
            // connections had, as often as each was used (loopback may reuse a port).
            let logged = records.reduce(into: [String: Int]()) { $0[$1["client"] as? String ?? "?", default: 0] += 1 }
            #expect(logged == clientEnds, "records per client end differ: \(logged.filter { clientEnds[$0.key] != $0.value }.prefix(5))")
            #expect(try cli.run("logs", "query", "--count", "--client", "127.0.0.1", "--outcome", "served").stdout.hasPrefix("\(sent)"))
            #expect(try cli.run("logs", "query", "--count", "--vserver", "other").stdout.hasPrefix("0"))

            let token = try String(contentsOfFile: cli.state + "/tms-admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let status = try JSONSerialization.jsonObject(with: Data(HealthMonitorOffloadTests.adminGet(port: admin, path: "/status", token: token).utf8)) as? [String: Any]
            let spool = (status?["accessLog"] as? [String: Any])?["spool"] as? [String: Any]
            print("LogCollectorOffload: spool high-water mark \(spool?["highWaterBytes"] as? Int ?? -1) bytes (limit 8 MiB), unacknowledged now \(spool?["unacknowledged"] as? Int ?? -1), dropped \(spool?["dropped"] as? Int ?? -1)")
            #expect(spool?["dropped"] as? Int == 0)

            // Bad input: one line each, non-zero.
            for bad in [["--since", "yesterday"], ["--client", "localhost"], ["--outcome", "lost"], ["--limit", "-1"]] {
                let out = try cli.run(["logs", "query"] + bad)
                #expect(out.status != 0 && out.stderr.split(separator: "\n").count == 1, "\(bad): \(out.stderr)")
            }
        }
    }

    /// Records per second from the traffic manager to a collector CVM with nothing lost, next
    /// to writing the same records to a local file (the access log's file writer) in the same
    /// run. The records are put in the spool before `tms run` starts (its spool keeps what a
    /// previous run left), so the figure is the shipping path's, not the load generator's:
    /// spool → TLS stream → the CVM (parse, compress, sync to its disk) → acknowledgement.
    @Test func recordsPerSecondToACollectorNextToALocalFile() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "log-collector", "--name", "bench")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let count = 100_000
        let records = (0..<count).map { n in
            AccessLogRecord(timeMs: 1_800_000_000_000 + UInt64(n), vServer: "web", core: n % 2, client: "10.1.\(n % 200).\(n % 7):\(20_000 + n % 40_000)",
                            target: n % 5 == 0 ? "overflow/b" : "a", bytesIn: 100 + n % 900, bytesOut: 2000 + n % 7000,
                            durationUs: 500 + n % 20_000, outcome: n % 5 == 0 ? .spilled : .served)
        }

        // Reference: the same records through the local file writer.
        var fileConfig = AccessLogConfig()
        fileConfig.file = cli.state + "/reference.log"
        let reference = try AccessLog(config: fileConfig, cores: 2, logger: .init(label: "bench"))
        let referenceStart = Date()
        for (n, record) in records.enumerated() { reference.record(record, core: n % 2) }
        reference.flushOnceForBenchmark()
        let referenceSeconds = Date().timeIntervalSince(referenceStart)

        // Ours: into the spool (the same encoding and append), then shipped.
        let spoolStart = Date()
        let spool = try AccessLogSpool(directory: cli.state + "/spool", maxBytes: 64 << 20, dropOldest: false)
        for chunk in stride(from: 0, to: count, by: 5000) { spool.append(records[chunk..<min(count, chunk + 5000)].map(\.line)) }
        let spoolSeconds = Date().timeIntervalSince(spoolStart)
        let admin = CVMBackupTests.freePort()
        let config = cli.state + "/tms.yaml"
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        accessLog:
          spool: { dir: \(cli.state)/spool, maxBytes: 67108864 }
          cvm: { task: log-collector, port: 7480 }
        vServers:
          - { name: web, bind: "127.0.0.1:\(CVMBackupTests.freePort())", services: [{ name: a, address: 127.0.0.1, port: 9, capacity: 1 }] }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let logText = tms.text
        try #require(try eventually(timeout: 40) { logText().contains("access log: shipping to the collector") }, "\(logText().suffix(2000))")
        let shipStart = Date()
        let token = try String(contentsOfFile: cli.state + "/tms-admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        func acknowledged() -> Int {
            let body = (try? HealthMonitorOffloadTests.adminGet(port: admin, path: "/status", token: token)) ?? ""
            let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return ((json?["accessLog"] as? [String: Any])?["spool"] as? [String: Any])?["acknowledged"] as? Int ?? 0
        }
        #expect(try eventually(timeout: 120) { acknowledged() >= count }, "acknowledged \(acknowledged()) of \(count)")
        let shipSeconds = Date().timeIntervalSince(shipStart)
        let collected = try cli.run("logs", "query", "--count").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(collected == "\(count)", "nothing lost, nothing twice: \(collected)")
        let ours = Double(count) / (spoolSeconds + shipSeconds), local = Double(count) / referenceSeconds
        print("LogCollectorOffload: records/s to the collector CVM with zero loss \(Int(ours)) (spool \(String(format: "%.2f", spoolSeconds)) s + shipped and acknowledged \(String(format: "%.1f", shipSeconds)) s), to a local file \(Int(local)) (ratio \(String(format: "%.2f", ours / local))); \(count) records, \(collected) collected")
    }
}
