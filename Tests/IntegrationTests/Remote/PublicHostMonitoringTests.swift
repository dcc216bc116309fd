import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing

/// The monitoring CVM on a host of trust `public`: its probes reach the services through the
/// traffic manager's probe relays on the hub, in mutual TLS, so no health path, status line or
/// header crosses the tunnel in clear (a capture of the tunnel shows TLS records; a ping with a
/// pattern over the same tunnel is seen: the control). Its verdicts still flip services down and
/// up. A TCP monitor, which a relay cannot answer for, is refused there in one event and the
/// traffic manager keeps monitoring itself.
@Suite(.serialized) struct PublicHostMonitoringTests {
    static func config(_ cli: CLIHarness, kind: String, a: SegmentBackend, b: SegmentBackend) throws -> (String, Int) {
        let (port, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        monitoring: { cvm: { task: health-monitor, port: 8190, returnPort: 9400 } }
        monitors:
          - { name: check, \(kind), interval: 200ms, timeout: 500ms, rise: 2, fall: 2 }
        vServers:
          - name: web
            bind: 127.0.0.1:\(port)
            mode: http
            monitor: check
            services:
              - { name: a, address: \(a.address), port: 9000, capacity: 10 }
              - { name: b, address: \(b.address), port: 9000, capacity: 5 }

        """.write(toFile: config, atomically: true, encoding: .utf8)
        return (config, port)
    }

    /// The printable text around the first `needle` in `hay` (what a failure shows).
    static func around(_ needle: String, in hay: [UInt8]) -> String {
        let bytes = Array(needle.utf8)
        guard let at = (0...max(0, hay.count - bytes.count)).first(where: { hay[$0..<$0 + bytes.count].elementsEqual(bytes) }) else { return "" }
        return String(decoding: hay[max(0, at - 120)..<min(hay.count, at + 200)].map { (32...126).contains($0) ? $0 : 46 }, as: UTF8.self)
    }

    @Test func probesFromAPublicHostGoThroughTLSRelays() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("pub", index: 0, extra: ["--trust", "public"]).status == 0)
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "farwatch", "--host", "pub")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let cvmAddress = try #require(try cli.status().cvms.first?.address)
        let a = try SegmentBackend()
        defer { a.stop() }
        let b = try SegmentBackend(namespace: "cvmbk2", address: "10.77.0.251")
        defer { b.stop() }
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        let (config, _) = try Self.config(cli, kind: "kind: http, path: /health-sealed-probe", a: a, b: b)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        func lines(_ text: String) -> [Substring] { tms.text().split(separator: "\n").filter { $0.contains(text) } }
        try #require(try eventually(timeout: 60) { tms.text().contains("monitoring offloaded to the CVM at \(cvmAddress):8190") },
                     "monitoring never offloaded: \(tms.text().suffix(3000))")

        // Two seconds of probes (2 services, every 200 ms) across the tunnel, captured.
        let capture = try BridgeCapture(file: cli.state + "/segment.pcap", filter: ["udp port 4789"])
        defer { capture.stop() }
        Thread.sleep(forTimeInterval: 2)
        let ping = try CVMNetworkTests.sh("ping -c 6 -i 0.2 -s 120 -W 2 -p 63766d2d636f6e74726f6c21 \(cvmAddress)")
        #expect(ping.status == 0, "\(ping.output)")
        Thread.sleep(forTimeInterval: 1)
        capture.stop()
        let hay = try capture.bytes()
        func contains(_ text: String) -> Bool { BridgeCapture.contains(Array(text.utf8), in: hay) }
        #expect(contains("cvm-control!"), "the control ping's pattern is not in the capture: the capture would not see plaintext")
        #expect(BridgeCapture.contains([0x17, 0x03, 0x03], in: hay), "no TLS application-data record in the capture")
        #expect(!contains("health-sealed-probe"), "a probe's path crossed the tunnel in clear")
        // The probes' own bytes: their User-Agent. (Not any `HTTP/1.1`: the kernel may still
        // retransmit an earlier test's orphaned request to a CVM address now on this tunnel.)
        #expect(!contains("User-Agent: cvm-tms-monitor"), "a probe crossed the tunnel in clear: \(Self.around("cvm-tms-monitor", in: hay))")
        print("PublicHostMonitoring: \(hay.count) bytes of tunnel captured, probes in TLS only (control ping seen)")

        // The verdicts still count: b leaves the segment and comes back.
        try b.setReachable(false)
        #expect(try eventually(timeout: 8) { lines("service down").contains { $0.contains("offloaded monitor") } },
                "the CVM's verdict did not arrive: \(tms.text().suffix(2000))")
        try b.setReachable(true)
        #expect(try eventually(timeout: 8) { lines("service up").contains { $0.contains("offloaded monitor") } })
        #expect(lines("service down").count == 1 && lines("service up").count == 1, "\(lines("service "))")
    }

    @Test func aTCPMonitorIsNotOffloadedToAPublicHost() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("pub", index: 0, extra: ["--trust", "public"]).status == 0)
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "health-monitor", "--name", "farwatch", "--host", "pub")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let a = try SegmentBackend()
        defer { a.stop() }
        let b = try SegmentBackend(namespace: "cvmbk2", address: "10.77.0.251")
        defer { b.stop() }
        let (config, _) = try Self.config(cli, kind: "kind: tcp", a: a, b: b)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        let refused = try eventually(timeout: 30) { try cli.events().contains { $0.kind == "tms.serve-refused" && $0.cvm == "farwatch" } }
        try #require(refused, "no refusal: \(tms.text().suffix(3000))")
        let line = try #require(try cli.events().last { $0.kind == "tms.serve-refused" }?.message)
        #expect(line.contains("monitor check is a TCP monitor") && line.contains("monitoring stays with the traffic manager"), "\(line)")
        // Its own monitor judges b.
        try b.setReachable(false)
        #expect(try eventually(timeout: 6) {
            tms.text().split(separator: "\n").contains { $0.contains("service down") && !$0.contains("offloaded monitor") }
        }, "\(tms.text().suffix(2000))")
        try b.setReachable(true)
        #expect(!tms.text().contains("monitoring offloaded"))
    }
}
