import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing

/// The traffic manager's health monitors offloaded to a CVM (image cvm-tms, task
/// health-monitor): `cvmctl tms run` hands the CVM its monitors with the services' current
/// states, follows the states the CVM streams back over mutual TLS (its own monitors paused),
/// and resumes its own monitors from the last states when the CVM is lost. Under load, with a
/// service taken off the segment and back in each mode; the dynamic limit follows; no service
/// flips because of a switch.
@Suite(.serialized) struct HealthMonitorOffloadTests {
    @Test func monitorsRunInACVMAndComeBackWhenItIsLost() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "watcher")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let a = try SegmentBackend()
        defer { a.stop() }
        let b = try SegmentBackend(namespace: "cvmbk2", address: "10.77.0.251")
        defer { b.stop() }
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }

        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        monitoring: { cvm: { task: health-monitor, port: 8190 } }
        monitors:
          - { name: check, kind: http, path: /health, interval: 200ms, timeout: 300ms, rise: 2, fall: 2 }
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: http
            monitor: check
            spillover: { kind: dynamic }
            services:
              - { name: a, address: \(a.address), port: 9000, capacity: 10 }
              - { name: b, address: \(b.address), port: 9000, capacity: 5 }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = cli.process(["tms", "run", "--config", config])
        let log = cli.state + "/tms.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        tms.standardOutput = handle
        tms.standardError = handle
        try tms.run()
        defer { tms.terminate(); tms.waitUntilExit() }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func lines(_ text: String) -> [Substring] { logText().split(separator: "\n").filter { $0.contains(text) } }

        try #require(try eventually(timeout: 40) { logText().contains("monitoring offloaded: following") },
                     "monitoring never offloaded: \(logText().suffix(3000))")
        let cvmAddress = try #require(try cli.status().cvms.first?.address)
        #expect(logText().contains("monitoring offloaded to the CVM at \(cvmAddress):8190"))

        // Load through the traffic manager for the whole test: a service is always up.
        let load = CVMBackupTests.Load()
        load.run(port: port, expectPeer: "10.77.0.1")
        var loadStopped = false
        defer { if !loadStopped { load.stop() } }

        // Offloaded: b leaves the segment; the CVM's monitor takes it down, the traffic manager
        // applies it (verdict "offloaded monitor"); b comes back, and up again.
        try b.setReachable(false)
        #expect(try eventually(timeout: 6) { lines("service down").contains { $0.contains("offloaded monitor") } },
                "the CVM's verdict did not arrive: \(logText().suffix(2000))")
        try b.setReachable(true)
        #expect(try eventually(timeout: 6) { lines("service up").contains { $0.contains("offloaded monitor") } })

        // The CVM is lost: its stream goes silent, the traffic manager's own monitors resume
        // within 3 s from the last states.
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-watcher.pid", encoding: .utf8)
        let killed = Date()
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        let resumed = try eventually(timeout: 5) { logText().contains("monitoring back: this traffic manager's monitors resume") }
        let reaction = Date().timeIntervalSince(killed)
        print("HealthMonitorOffload: CVM killed; own monitors resumed after \(String(format: "%.1f", reaction)) s")
        #expect(resumed && reaction < 3, "took \(reaction) s: \(logText().suffix(2000))")

        // Local again: b down and up, judged by the traffic manager's own monitor.
        try b.setReachable(false)
        #expect(try eventually(timeout: 6) { lines("service down").contains { !$0.contains("offloaded monitor") } },
                "the own monitor did not take b down: \(logText().suffix(2000))")
        try b.setReachable(true)
        #expect(try eventually(timeout: 6) { lines("service up").contains { !$0.contains("offloaded monitor") } })

        // Exactly the four flips caused: none from a hand-over.
        let flips = lines("service down").count + lines("service up").count
        #expect(flips == 4, "flips: \(lines("service "))")
        load.stop()
        loadStopped = true
        let (ok, failed, errors) = load.lock.withLock { (load.ok, load.failed, load.errors) }
        print("HealthMonitorOffload: \(ok) requests under load, \(failed) failed")
        #expect(failed == 0, "\(errors.prefix(3))")
        #expect(ok > 0)
    }
}
