import Foundation
import Orchestrator
import Testing

/// Faults an operator meets, done for real: a cloud host's libvirtd restarted, a host's
/// cable pulled and plugged back, two guests killed at once. Each test prints one row of the
/// chaos table — detection time, recovery time, what was left behind — and checks the goals:
/// nothing failed that was healthy, no CVM running twice, no two masters, nothing left.
@Suite(.serialized) struct ChaosTests {
    /// One sample of what `cvmctl status` and `cluster status` say, with when it was taken.
    struct Sample {
        var at: Date
        var cvms: [CVMStatus]
        var took: TimeInterval
        func cvm(_ name: String) -> CVMStatus? { cvms.first { $0.name == name } }
    }

    static func testbed(_ arguments: String...) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [CLIHarness.repoRoot + "/scripts/testbed.sh"] + arguments
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ChaosError(message: "testbed.sh \(arguments.joined(separator: " ")): \(message)") }
    }

    struct ChaosError: Error, CustomStringConvertible { var message: String; var description: String { message } }

    /// Samples status every `every` until `until` says stop or `timeout` passes.
    static func watch(_ cli: CLIHarness, timeout: TimeInterval, every: TimeInterval = 0.2,
                      until done: ([Sample]) -> Bool) throws -> [Sample] {
        var samples: [Sample] = []
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            let asked = Date()
            let report = try cli.status()
            samples.append(Sample(at: asked, cvms: report.cvms, took: Date().timeIntervalSince(asked)))
            if done(samples) { break }
            Thread.sleep(forTimeInterval: every)
        }
        return samples
    }

    static func row(_ fault: String, detection: TimeInterval?, recovery: TimeInterval?, leftBehind: [String], note: String = "") {
        func s(_ t: TimeInterval?) -> String { t.map { String(format: "%.1f s", $0) } ?? "—" }
        let left = leftBehind.isEmpty ? "nothing" : leftBehind.joined(separator: ", ")
        print("CHAOS | \(fault) | detection \(s(detection)) | recovery \(s(recovery)) | left behind: \(left)\(note.isEmpty ? "" : " | \(note)")")
    }

    /// When `name` was last heard from, as a sample tells it.
    static func heard(_ sample: Sample, _ name: String) -> Date? {
        sample.cvm(name)?.lastHeartbeatAgeSeconds.map { sample.at.addingTimeInterval(-$0) }
    }

    @Test func libvirtdRestartOnACloudHostFailsNothing() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "steady", "--host", "c2").status == 0)
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        try MigrationTests().expectHealthy(cli, "steady", on: "c2")

        let fault = Date()
        try Self.testbed("restart-libvirtd", "2")
        // Heard from again after the restart, and not failed at any point.
        let samples = try Self.watch(cli, timeout: 20) { samples in
            guard let last = samples.last, let heard = Self.heard(last, "steady") else { return false }
            return heard > fault.addingTimeInterval(0.5) && last.cvm("steady")?.state == "running"
        }
        let states = samples.compactMap { $0.cvm("steady")?.state }
        let recovered = samples.last.flatMap { Self.heard($0, "steady") }
        let events = try cli.events().filter { $0.at >= fault }
        let detected = events.first { $0.kind == "host.unreachable" && $0.host == "c2" }?.at
        #expect(!states.contains("failed"), "a libvirtd restart failed a healthy CVM: \(states)")
        #expect(recovered.map { $0 > fault } == true, "no heartbeat after the restart: \(states)")
        #expect(!events.contains { $0.kind == "cvm.failed" }, "\(events.map(\.message))")
        let status = try cli.status()
        #expect(status.mismatches.isEmpty, "\(status.mismatches)")
        Self.row("libvirtd restart (cloud host)", detection: detected.map { $0.timeIntervalSince(fault) },
                 recovery: recovered.map { $0.timeIntervalSince(fault) }, leftBehind: [],
                 note: "states seen: \(Array(Set(states)).sorted().joined(separator: "/"))")
        #expect(try cli.run("decommission", "steady").status == 0)
        #expect(try cli.remoteTraces(of: "steady") == [])
    }

    @Test func twoGuestsKilledAtOnceAreSeenTogether() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let created = try cli.json(ClusterLifecycleTests.Report.self, "cluster", "create", "two", "--image", "cvm-base", "--size", "3")
        #expect(created.healthy)
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })
        Thread.sleep(forTimeInterval: 2)

        let pids = try ["two-1", "two-2"].map { name in
            let text = try String(contentsOfFile: "/run/libvirt/qemu/cvm-\(name).pid", encoding: .utf8)
            return try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let fault = Date()
        for pid in pids { kill(pid, SIGKILL) }
        var failedAt: [String: Date] = [:]
        var masterAt: Date?
        _ = try Self.watch(cli, timeout: 20, every: 0.1) { samples in
            let s = samples.last!
            for name in ["two-1", "two-2"] where failedAt[name] == nil && s.cvm(name)?.state == "failed" { failedAt[name] = s.at }
            let report = try? ClusterLifecycleTests().cluster(cli, "two")
            if masterAt == nil, report?.master == "two-3", report?.member("two-3")?.agentRole == "master" { masterAt = Date() }
            return failedAt.count == 2 && masterAt != nil
        }
        // When the monitor recorded each failure (its journal), not when a sample happened to see
        // it: one `status` sample takes a good part of a second on a busy machine.
        let journaled = try cli.events().filter { $0.kind == "cvm.failed" && $0.at >= fault }
        for name in ["two-1", "two-2"] {
            if let at = journaled.first(where: { $0.cvm == name })?.at { failedAt[name] = at }
        }
        let first = failedAt.values.min(), second = failedAt.values.max()
        #expect(failedAt.count == 2, "not both failed: \(failedAt)")
        if let first, let second {
            // Both are seen together (libvirt's lifecycle events). They used to be 3.0 s apart in
            // most runs: the monitor reopened the second guest's channel while libvirtd was still
            // tearing that domain down, which held its teardown and event back; channels are now
            // reopened 0.5 s after they end.
            #expect(second.timeIntervalSince(first) < 1.0, "the second failure was seen \(second.timeIntervalSince(first)) s after the first")
            // The goal is 3 s; the bound leaves room for a loaded CI machine (the row prints the figure).
            #expect(first.timeIntervalSince(fault) <= 5, "detected after \(first.timeIntervalSince(fault)) s")
        }
        #expect(masterAt != nil, "two-3 never became master")
        Self.row("two guests killed at once (master + servant)", detection: second.map { $0.timeIntervalSince(fault) },
                 recovery: masterAt.map { $0.timeIntervalSince(fault) }, leftBehind: [],
                 note: "second failure \(String(format: "%.2f", (second ?? fault).timeIntervalSince(first ?? fault))) s after the first; recovery = servant promoted and holding the role")
        #expect(try cli.run("cluster", "delete", "two").status == 0)
        for name in ["two-1", "two-2", "two-3"] { #expect(try cli.traces(of: name) == []) }
    }

    @Test func aLostHostIsReplacedAndFencedWhenItReturns() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        defer { try? Self.testbed("link", "2", "up") }
        let created = try cli.json(ClusterLifecycleTests.Report.self, "cluster", "create", "ha", "--image", "cvm-base", "--size", "2",
                                   "--host", "c2", "--host", "c3")
        #expect(created.healthy && created.master == "ha-1")
        #expect(created.members.map(\.host) == ["c2", "c3"])
        let elastic = try cli.startQuietElastic()
        defer { if elastic.isRunning { elastic.terminate(); elastic.waitUntilExit() } }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })
        try MigrationTests().expectHealthy(cli, "ha-1", on: "c2")

        // The cable of c2 (holding the master) is pulled.
        let fault = Date()
        try Self.testbed("link", "2", "down")
        var unknownAt: Date?, promotedAt: Date?, replacementAt: Date?
        var slowestStatus: TimeInterval = 0
        var doubleMasters: [String] = []
        let outage = try Self.watch(cli, timeout: 90, every: 0.2) { samples in
            let s = samples.last!
            slowestStatus = max(slowestStatus, s.took)
            if unknownAt == nil, let state = s.cvm("ha-1")?.state, state != "running" { unknownAt = s.at }
            guard let report = try? ClusterLifecycleTests().cluster(cli, "ha") else { return false }
            let runningMasters = report.members.filter { $0.state == "running" && $0.agentRole == "master" }
            if runningMasters.count > 1 { doubleMasters.append(runningMasters.map(\.name).joined(separator: "+")) }
            if promotedAt == nil, report.master == "ha-2", report.member("ha-2")?.agentRole == "master" { promotedAt = s.at }
            if replacementAt == nil, let added = report.members.first(where: { $0.name != "ha-1" && $0.name != "ha-2" }),
               added.state == "running", let heard = Self.heard(s, added.name), heard > fault {
                replacementAt = s.at
            }
            return promotedAt != nil && replacementAt != nil
        }
        let events = try cli.events().filter { $0.at >= fault }
        let lostAt = events.first { $0.kind == "host.lost" && $0.host == "c2" }?.at
        let story = events.filter { !$0.kind.hasPrefix("host.added") }.map { "\($0.kind) \($0.cvm ?? "-"): \($0.message)" }
        #expect(unknownAt != nil && promotedAt != nil && replacementAt != nil,
                "not recovered: \(outage.last?.cvms.map { "\($0.name)@\($0.host) \($0.state)" } ?? []); events: \(story)")
        #expect(doubleMasters.isEmpty, "two masters: \(doubleMasters)")
        #expect(slowestStatus < 5, "status took \(slowestStatus) s while c2 was unreachable")
        if let lostAt, let replacementAt {
            print("CHAOS | host lost → replacement heartbeating: \(String(format: "%.1f", replacementAt.timeIntervalSince(lostAt))) s")
        }
        // The promotion waited for the confirmed loss: never while ha-1 was only unknown.
        // (The journal's timestamp of `host.lost` can trail the store change by a second on
        // a busy machine; the rule itself is the store's and is unit-tested.)
        if let lostAt, let promotedAt { #expect(promotedAt >= lostAt.addingTimeInterval(-1.5)) }

        // The cable is plugged back: the old master is fenced (destroyed there), never a
        // second master next to ha-2.
        let back = Date()
        try Self.testbed("link", "2", "up")
        let fenced = try eventually(timeout: 90) {
            try cli.status().cvms.first { $0.name == "ha-1" } == nil && (try cli.remoteTraces(of: "ha-1")).isEmpty
        }
        let fencedAt = Date()
        let traces = try cli.remoteTraces(of: "ha-1"), rows = try cli.status().cvms.map { "\($0.name) \($0.state)" }
        #expect(fenced, "ha-1 not fenced: \(traces) \(rows)\nelastic log:\n\(cli.elasticLogTail(lines: 120))")
        let fencing = fencedAt.timeIntervalSince(back)
        // Goal: within a few seconds (2-4 s measured); the bound leaves room for a loaded machine.
        #expect(fencing < 20, "old master fenced \(String(format: "%.1f", fencing)) s after the link returned\nelastic log:\n\(cli.elasticLogTail(lines: 120))")
        let report = try ClusterLifecycleTests().cluster(cli, "ha")
        #expect(report.healthy && report.master == "ha-2", "\(report.members.map { "\($0.name) \($0.role)/\($0.agentRole ?? "-") \($0.state)" })")
        #expect(report.members.filter { $0.agentRole == "master" }.count == 1)
        Self.row("host link down (master's host), plugged back after recovery",
                 detection: unknownAt.map { $0.timeIntervalSince(fault) },
                 recovery: replacementAt.map { $0.timeIntervalSince(fault) },
                 leftBehind: try cli.remoteTraces(of: "ha-1"),
                 note: "loss confirmed at \(lostAt.map { String(format: "%.1f s", $0.timeIntervalSince(fault)) } ?? "—"), promoted at \(promotedAt.map { String(format: "%.1f s", $0.timeIntervalSince(fault)) } ?? "—"), old master fenced \(String(format: "%.1f", fencedAt.timeIntervalSince(back))) s after the link returned, slowest status \(String(format: "%.1f", slowestStatus)) s")
        elastic.terminate()
        #expect(eventually(timeout: 20) { !elastic.isRunning })
        #expect(try cli.run("cluster", "delete", "ha").status == 0)
        for name in ["ha-1", "ha-2", "ha-3"] { #expect(try cli.remoteTraces(of: name) == []) }
    }

    @Test func aMigrationKilledMidwayIsSettledByTheNextCommand() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "mover2", "--host", "c2").status == 0)
        let migrate = cli.process(["migrate", "mover2", "--to", "c3"])
        migrate.standardOutput = FileHandle.nullDevice
        migrate.standardError = FileHandle.nullDevice
        try migrate.run()
        // Killed while the copy runs: the store says migrating and the destination has the domain.
        let copying = try eventually(timeout: 60) {
            try cli.status().cvms.first { $0.name == "mover2" }?.state == "migrating"
                && (try cli.remoteTraces(of: "mover2")).contains("domain on cvmh3")
        }
        #expect(copying, "never caught the migration mid-copy")
        let fault = Date()
        kill(migrate.processIdentifier, SIGKILL)
        migrate.waitUntilExit()

        // The next command finds where the domain runs and settles the store (a host busy
        // removing the half-made domain by itself may take another command or two).
        var status = try cli.status()
        for _ in 0..<5 where status.cvms.first(where: { $0.name == "mover2" })?.state != "running" {
            Thread.sleep(forTimeInterval: 1)
            status = try cli.status()
        }
        let settled = Date()
        let cvm = try #require(status.cvms.first { $0.name == "mover2" })
        #expect(cvm.state == "running" && cvm.domainState == "running", "\(cvm.state)/\(cvm.domainState) on \(cvm.host)")
        let machine = cvm.host == "c2" ? "cvmh2" : "cvmh3", other = cvm.host == "c2" ? "cvmh3" : "cvmh2"
        let traces = try cli.remoteTraces(of: "mover2")
        #expect(traces.contains("domain on \(machine)"), "\(traces)")
        let leftBehind = traces.filter { $0.hasSuffix(other) }
        #expect(leftBehind.isEmpty, "left on \(other): \(leftBehind)")
        #expect(status.mismatches.isEmpty, "\(status.mismatches)")
        #expect(try cli.events().contains { $0.kind == "migrate.reconciled" && $0.cvm == "mover2" })
        Self.row("migrate SIGKILLed mid-copy", detection: settled.timeIntervalSince(fault), recovery: settled.timeIntervalSince(fault),
                 leftBehind: leftBehind, note: "settled by the next `status`: runs on \(cvm.host)")
        // Decommission removes what really runs, everywhere.
        #expect(try cli.run("decommission", "mover2").status == 0)
        #expect(try cli.remoteTraces(of: "mover2") == [])
    }
}
