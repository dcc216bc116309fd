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
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let logText = tms.text
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

        // A reload that changes the monitors reaches the CVM: it is served them again (with the
        // states), and followed again; no service flips.
        let servedBefore = lines("CVM watcher serving at").count
        try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "interval: 200ms", with: "interval: 250ms")
            .write(toFile: config, atomically: true, encoding: .utf8)
        kill(tms.process.processIdentifier, SIGHUP)
        #expect(try eventually(timeout: 30) { lines("CVM watcher serving at").count > servedBefore },
                "the changed monitors never reached the CVM: \(logText().suffix(2000))")
        #expect(try eventually(timeout: 10) { logText().split(separator: "\n").last { $0.contains("monitoring offloaded to the CVM") || $0.contains("monitoring: no monitoring CVM serves") }?.contains("offloaded") == true })

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

extension HealthMonitorOffloadTests {
    /// Bad input: monitor definitions the CVM refuses although the traffic manager takes them
    /// (a service on loopback: inside a CVM that is the CVM itself). The CVM's data plane says
    /// so in its heartbeat; the traffic manager puts its reason in one event, decommissions the
    /// CVM, and its own monitors go on judging the service.
    @Test func monitorDefinitionsTheCVMRefusesLeaveMonitoringLocal() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "picky")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let (port, admin, closed) = (CVMBackupTests.freePort(), CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        monitoring: { cvm: { task: health-monitor, port: 8190 } }
        monitors:
          - { name: check, kind: tcp, interval: 200ms, timeout: 300ms, rise: 2, fall: 2 }
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: tcp
            monitor: check
            services:
              - { name: here, address: 127.0.0.1, port: \(closed), capacity: 10 }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let logText = tms.text

        let refused = try eventually(timeout: 60) { try cli.events().contains { $0.kind == "tms.serve-failed" && $0.cvm == "picky" } }
        try #require(refused, "no refusal: \(logText().suffix(3000))")
        let line = try #require(try cli.events().last { $0.kind == "tms.serve-failed" }?.message)
        #expect(line.contains("CVM 'picky' refused its configuration: service here of vServer web is at 127.0.0.1:\(closed), a loopback address")
                && line.contains("monitoring stays with the traffic manager"), "\(line)")
        #expect(try eventually(timeout: 20) { try cli.status().cvms.isEmpty }, "the CVM that refused is still there")
        #expect(try Store(directory: cli.state).addressLeases().isEmpty, "its address lease was not released")
        #expect(!logText().contains("monitoring offloaded"), "\(logText().suffix(2000))")
        // The traffic manager's own monitor judges the service (nothing listens there).
        #expect(try eventually(timeout: 6) {
            logText().split(separator: "\n").contains { $0.contains("service down") && !$0.contains("offloaded monitor") }
        }, "\(logText().suffix(2000))")
    }

    /// `GET path` on the traffic manager's admin endpoint with its token; the body.
    static func adminGet(port: Int, path: String, token: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw CVMBackupTests.Client.ClientError.failed("admin connect: errno \(errno)") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: admin\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        return text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
    }

    /// Probes per second one monitoring CVM sustains, next to the same monitors run by the
    /// traffic manager itself in the same run: 16 services probed every 10 ms (1,600 probes/s
    /// asked), counted by the probes that answered (the monitors' samples, which the traffic
    /// manager takes over from the CVM while monitoring is offloaded).
    @Test func probesPerSecondInACVMNextToLocal() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        // The segment exists once a CVM was deployed: one to watch, started later.
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "counter")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let a = try SegmentBackend()
        defer { a.stop() }
        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let services = (0..<16).map { "      - { name: s\($0), address: \(a.address), port: 9000, capacity: 10 }" }.joined(separator: "\n")
        func write(offloaded: Bool) throws -> String {
            let config = cli.state + "/tms-\(offloaded).yaml"
            try """
            cores: 1
            admin: { address: 127.0.0.1:\(admin) }
            \(offloaded ? "monitoring: { cvm: { task: health-monitor, port: 8190 } }" : "")
            monitors:
              - { name: check, kind: tcp, interval: 10ms, timeout: 500ms, rise: 2, fall: 3 }
            vServers:
              - name: web
                bind: 127.0.0.1:\(port)
                monitor: check
                services:
            \(services)

            """.write(toFile: config, atomically: true, encoding: .utf8)
            return config
        }
        func rate(seconds: Double) throws -> Double {
            let token = try String(contentsOfFile: cli.state + "/tms-admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            func total() throws -> Int {
                let body = try Self.adminGet(port: admin, path: "/status", token: token)
                let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                return (json?["monitors"] as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["samples"] as? Int ?? 0) }
            }
            let first = try total(), began = Date()
            Thread.sleep(forTimeInterval: seconds)
            return Double(try total() - first) / Date().timeIntervalSince(began)
        }
        func run(offloaded: Bool) throws -> Double {
            let tms = try TmsRun(cli, config: try write(offloaded: offloaded), name: "tms-\(offloaded)")
            defer { tms.stop() }
            let logText = tms.text
            if offloaded {
                try #require(try eventually(timeout: 40) { logText().contains("monitoring offloaded: following") }, "\(logText().suffix(2000))")
            } else {
                try #require(try eventually(timeout: 10) { logText().contains("traffic manager started") }, "\(logText().suffix(2000))")
            }
            Thread.sleep(forTimeInterval: 2)
            return try rate(seconds: 5)
        }
        let local = try run(offloaded: false)
        let cvm = try run(offloaded: true)
        print("HealthMonitorOffload: probes/s (16 services every 10 ms = 1600 asked): monitoring CVM \(Int(cvm)), the traffic manager itself \(Int(local)) (ratio \(String(format: "%.2f", cvm / max(local, 1))))")
        #expect(local > 0 && cvm > 0)
    }
}
