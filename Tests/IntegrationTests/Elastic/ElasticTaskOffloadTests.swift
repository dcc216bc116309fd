import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing

/// Elastic mode decides per task, from the traffic manager's measured usage, where each task
/// runs (issue 13 item 5), end to end: `cvmctl tms run` reports its tasks at `/usage`,
/// `cvmctl elastic run --tms-admin` reads them under a policy committed to git, and
/// - the health monitor, over its probes-per-second threshold, gets a CVM and the traffic
///   manager offloads its monitors to it; offloaded, the probes the CVM makes still count
///   for the task, so it stays offloaded (no flapping); when a reload slows the monitors
///   down, it comes back to the traffic manager and the CVM is retired;
/// - the log collector, heavy on disk, gets a CVM the access log is shipped to, and comes back
///   when the traffic stops;
/// - the vServer's own task (`backup-vserver`), heavy on network bytes only (which offloading does not relieve),
///   stays, and the journal says why.
/// Real guests (image cvm-tms), real sockets, a real git repository; load through the traffic
/// manager the whole time, and no service flips because of a switch.
@Suite(.serialized) struct ElasticTaskOffloadTests {
    @Test func tasksMoveByTheirOwnUsageAndANetworkHeavyTaskStays() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let a = try SegmentBackend()
        defer { a.stop() }
        let b = try SegmentBackend(namespace: "cvmbk2", address: "10.77.0.251")
        defer { b.stop() }

        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        // Two services probed every 50 ms: 40 probes/s, twice the policy's threshold.
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        usage: { interval: 200ms, window: 30 }
        monitoring: { cvm: { task: health-monitor, port: 8190 } }
        accessLog:
          file: \(cli.state)/access.log
          spool: { dir: \(cli.state)/spool, maxBytes: 8388608 }
          cvm: { task: log-collector, port: 7480 }
        monitors:
          # timeout 1s: the offloaded monitor runs in a TCG guest that a busy two-core host
          # stalls for over 600 ms now and then (two 300 ms timeouts flipped b in a CI run).
          - { name: check, kind: http, path: /health, interval: 50ms, timeout: 1s, rise: 2, fall: 2 }
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: http
            task: backup-vserver
            monitor: check
            spillover: { kind: dynamic }
            services:
              - { name: a, address: \(a.address), port: 9000, capacity: 10 }
              - { name: b, address: \(b.address), port: 9000, capacity: 5 }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let logText = tms.text
        func lines(_ text: String) -> [Substring] { logText().split(separator: "\n").filter { $0.contains(text) } }
        try #require(eventually(timeout: 10) { FileManager.default.fileExists(atPath: cli.state + "/tms-admin.token") })

        // Load: the checked requests of `Load`, and new connections back to back, whose access
        // log records are far above what the switches themselves log (their events, about
        // 1.5 KB/s). With two TCG guests on a two-core host the connections come at 40-370 a
        // second (the spool's writes 5-45 KB/s, 20 KB/s on average, in a CI run): the
        // collector's threshold below (6 KB/s; it returns below 4.8 KB/s) sits under that
        // range and above the events alone.
        let load = CVMBackupTests.Load()
        load.run(port: port, expectPeer: "10.77.0.1")
        let burst = Burst()
        burst.run(port: port)
        var loadStopped = false
        defer { if !loadStopped { load.stop(); _ = burst.stop() } }

        // What the traffic manager reports for the access log, once a second (shown on failure).
        let trace = UsageTrace()
        trace.run(cli, admin: admin)
        defer { trace.stop() }

        let repo = try PolicyRepoFixture(in: cli.state + "/policy-repo")
        let commit = try repo.commit("""
            clouds:
              here: {trust: local, hosts: [local]}
            tiers:
              near: {security: local-only, allowedClouds: [here]}
            tasks:
              health-monitor:
                image: cvm-tms
                tier: near
                thresholds: {connectionsPerSecond: 20}
                maxCVMs: 1
              log-collector:
                image: cvm-tms
                tier: near
                thresholds: {cpuPercent: 400, diskBytesPerSecond: 6000}
                offloadWhen: [cpuPercent, diskBytesPerSecond]
                maxCVMs: 1
              backup-vserver:
                image: cvm-tms
                tier: near
                thresholds: {cpuPercent: 400, bytesPerSecond: 1000}
                offloadWhen: [cpuPercent]
                maxCVMs: 1
            elastic:
              intervalSeconds: 0.5
              cooldownSeconds: 2
              hysteresisPercent: 20
              maxConcurrentActions: 2
              forecast: {method: holt, alpha: 0.4, beta: 0.2, horizonSeconds: 1, windowSeconds: 10}

            """, message: "monitoring by probes/s, the collector by CPU and disk, the vServer stays")
        let elasticLog = cli.state + "/elastic.log"
        let elastic = try cli.background(["elastic", "run", "--repo", repo.path, "--branch", "main",
                                          "--tms-admin", "127.0.0.1:\(admin)", "--grace", "5", "-v"], log: elasticLog)
        defer { elastic.stopAndWait() }
        func elasticText() -> String { (try? String(contentsOfFile: elasticLog, encoding: .utf8)) ?? "" }
        func journal() -> [String] { ((try? cli.events()) ?? []).filter { $0.kind.hasPrefix("elastic") }.suffix(12).map { "\($0.kind): \($0.message)" } }
        func cvm(of task: String) throws -> CVMStatus? { try cli.status().cvms.first { $0.task == task && $0.state == "running" } }

        // Both heavy tasks are offloaded by their measured usage.
        var watcher: CVMStatus?, collector: CVMStatus?
        let offloaded = try eventually(timeout: 90) {
            guard elastic.isRunning else { return true }
            watcher = try cvm(of: "health-monitor")
            collector = try cvm(of: "log-collector")
            guard let w = watcher?.address, let c = collector?.address else { return false }
            return logText().contains("monitoring offloaded to the CVM at \(w):8190")
                && logText().contains("access log shipped to the log-collector CVM at \(c):7480")
        }
        try #require(offloaded && watcher != nil && collector != nil, "not both offloaded; journal: \(journal()); elastic: \(elasticText().suffix(1500)); tms: \(logText().suffix(2000))")
        let (monitorCVM, collectorCVM) = (watcher!.name, collector!.name)

        // Why, in the journal and in `cvmctl explain`: each by the resource it is heavy on.
        var events = try cli.events()
        let monitorAction = events.first { $0.kind == "elastic.action" && $0.cvm == monitorCVM }
        #expect(monitorAction?.message.contains("connectionsPerSecond") == true && monitorAction?.policyCommit == commit,
                "\(monitorAction?.message ?? "no action")")
        let collectorAction = events.first { $0.kind == "elastic.action" && $0.cvm == collectorCVM }
        #expect(collectorAction?.message.contains("diskBytesPerSecond") == true, "\(collectorAction?.message ?? "no action")")
        let explained = try cli.run("explain", monitorCVM)
        #expect(explained.stdout.contains("connectionsPerSecond anticipated") && explained.stdout.contains("policy commit \(commit)"),
                "\(explained.stdout)")

        // The network-heavy vServer task stays, and the journal says why.
        #expect(try eventually(timeout: 10) {
            try cli.events().contains { $0.kind == "elastic.decision" && $0.message.hasPrefix("backup-vserver:") && $0.message.contains("does not relieve") }
        }, "\(((try? cli.events()) ?? []).filter { $0.kind == "elastic.decision" }.map(\.message))")
        #expect(try cvm(of: "backup-vserver") == nil)

        // Offloaded, the tasks keep their usage (the CVM's probes count as the monitor task's,
        // the spool's writes as the collector's): several evaluations, cooldowns included,
        // and neither comes back.
        Thread.sleep(forTimeInterval: 8)
        events = try cli.events()
        #expect(!events.contains { $0.kind == "elastic.action" && $0.message.contains("decommission") },
                "a task came back while its usage held: \(journal()); access log usage: \(trace.lines)")
        let usage = try cli.run("tms", "usage", "--admin", "127.0.0.1:\(admin)", "--json")
        #expect(usage.status == 0, "\(usage.stderr)")
        if let report = try? JSONSerialization.jsonObject(with: Data(usage.stdout.utf8)) as? [String: Any],
           let tasks = report["tasks"] as? [[String: Any]],
           let monitor = tasks.first(where: { $0["name"] as? String == "monitor/check" }),
           let current = monitor["current"] as? [String: Double] {
            print("ElasticTaskOffload: offloaded monitor task at \(current["connectionsPerSecond"] ?? -1) probes/s")
            // Nominally 40 probes/s (39 here on a quiet host); the line that matters is the one
            // below which the task would come back: the threshold less the hysteresis band,
            // 20 × 0.8. A busy host slows the guest's probes (18/s seen once in a CI run).
            #expect((current["connectionsPerSecond"] ?? 0) > 16, "\(current)")
        } else {
            Issue.record("no monitor task in the usage report: \(usage.stdout.prefix(1500))")
        }

        // The traffic stops: the collector's disk usage falls, it comes back, its CVM retires.
        load.stop()
        let bursts = burst.stop()
        loadStopped = true
        let (ok, failed, errors) = load.lock.withLock { (load.ok, load.failed, load.errors) }
        #expect(failed == 0 && ok > 0, "\(ok) ok, \(failed) failed: \(errors.prefix(3))")
        print("ElasticTaskOffload: \(ok) checked requests and \(bursts.ok) back-to-back connections, \(bursts.failed) of those failed")
        #expect(bursts.failed == 0 && bursts.ok > 0)
        #expect(try eventually(timeout: 60) { try cli.status().cvms.contains { $0.name == collectorCVM } == false },
                "the collector CVM was not retired: \(journal())")
        #expect(try cli.events().contains { $0.kind == "elastic.decision" && $0.message.contains("log-collector") && $0.message.contains("return to the TMS") })

        // A reload slows the monitors (4 probes/s): monitoring comes back, its CVM retires, and
        // the traffic manager's own monitors resume.
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "interval: 50ms", with: "interval: 500ms")
            .write(toFile: config, atomically: true, encoding: .utf8)
        kill(tms.process.processIdentifier, SIGHUP)
        #expect(try eventually(timeout: 60) { try cli.status().cvms.isEmpty },
                "the monitoring CVM was not retired: \(journal())")
        #expect(try eventually(timeout: 10) { logText().contains("monitoring back: this traffic manager's monitors resume") },
                "\(logText().suffix(2000))")

        // One deploy and one decommission per moved task: no flapping; no service flipped.
        events = try cli.events()
        for name in [monitorCVM, collectorCVM] {
            let actions = events.filter { $0.kind == "elastic.action" && $0.cvm == name }.map(\.message)
            #expect(actions.count == 2 && actions.first?.contains("deploy") == true && actions.last?.contains("decommission") == true,
                    "\(name): \(actions)")
        }
        let actions = events.filter { $0.kind == "elastic.action" }
        #expect(actions.count == 4, "\(events.filter { !$0.kind.hasPrefix("elastic.decision") }.map { "\($0.kind) \($0.cvm ?? "-"): \($0.message.prefix(160))" }.joined(separator: "\n"))")
        #expect(lines("service down").isEmpty && lines("service up").isEmpty, "\(lines("service "))")
    }
}

/// New connections through the traffic manager back to back, each with one request, on a
/// thread of its own until stopped.
private final class Burst: @unchecked Sendable {
    private let lock = NSLock()
    private var counts = (ok: 0, failed: 0)
    private var stopped = false
    private let done = DispatchSemaphore(value: 0)

    func run(port: Int) {
        Thread.detachNewThread { [self] in
            defer { done.signal() }
            while !lock.withLock({ stopped }) {
                let answered = (try? CVMBackupTests.Client(port: port).get("/burst").status) == 200
                lock.withLock { if answered { counts.ok += 1 } else { counts.failed += 1 } }
            }
        }
    }

    /// Stops and waits; what was sent.
    func stop() -> (ok: Int, failed: Int) {
        lock.withLock { stopped = true }
        done.wait()
        return lock.withLock { counts }
    }
}

/// The access log's and the monitor's current usage from `cvmctl tms usage --json`, once a
/// second on a thread of its own: `+SECONDS disk=B/s cpu=% records=/s probes=/s`.
private final class UsageTrace: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []
    private var stopped = false

    var lines: [String] { lock.withLock { entries } }

    func run(_ cli: CLIHarness, admin: Int) {
        let began = Date()
        Thread.detachNewThread { [self] in
            while !lock.withLock({ stopped }) {
                if let out = try? cli.run("tms", "usage", "--admin", "127.0.0.1:\(admin)", "--json"), out.status == 0,
                   let report = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
                   let tasks = report["tasks"] as? [[String: Any]] {
                    func current(_ name: String) -> [String: Double] {
                        tasks.first { $0["name"] as? String == name }?["current"] as? [String: Double] ?? [:]
                    }
                    let log = current("accesslog"), monitor = current("monitor/check")
                    let line = String(format: "+%.0f disk=%.0f cpu=%.1f records=%.0f probes=%.0f", Date().timeIntervalSince(began),
                                      log["diskBytesPerSecond"] ?? -1, log["cpuPercent"] ?? -1,
                                      log["connectionsPerSecond"] ?? -1, monitor["connectionsPerSecond"] ?? -1)
                    lock.withLock { entries.append(line) }
                }
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    func stop() { lock.withLock { stopped = true } }
}
