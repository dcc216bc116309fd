import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing

/// A backup CVM on a host of trust `public`: the traffic manager connects to it over mutual
/// TLS (certificates of the orchestrator's CA; the CVM's own came on its disk), and the CVM
/// reaches the backend through the traffic manager's TLS return relay on the hub. A capture of
/// the test bed's bridge (where the VXLAN tunnel to the cloud host runs) while requests flow
/// holds TLS records and no byte of the requests or responses in clear; a ping with a pattern
/// over the same tunnel, captured alike, shows that payloads in clear would be seen.
@Suite(.serialized) struct PublicHostTLSTests {
    @Test func trafficToABackupCVMOnAPublicHostIsEncrypted() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("pub", index: 0, extra: ["--trust", "public"]).status == 0)
        let deployed = try cli.run("deploy", "--image", "cvm-tms", "--task", "backup-vserver", "--name", "sealed", "--host", "pub")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let cvmAddress = try #require(try cli.status().cvms.first?.address)
        let backend = try SegmentBackend()
        defer { backend.stop() }
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        // Limit 0: every connection spills to the CVM.
        let (port, tms, log) = try CVMBackupTests.startTrafficManager(cli, backend: backend, primaryLimit: 0)
        defer { tms.terminate(); tms.waitUntilExit() }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        try #require(try eventually(timeout: 40) { logText().contains("CVM services of vServer web-cvm: sealed \(cvmAddress):8090 (TLS)") },
                     "the CVM never served over TLS: \(logText().suffix(3000))")

        // The tunnel's UDP between the hub and the cloud host, on the test bed's bridge.
        let capture = try BridgeCapture(file: cli.state + "/segment.pcap", filter: ["udp port 4789"])
        defer { capture.stop() }

        // Requests whose path and whose responses are easy to find in clear.
        let marker = "sealed-request-7f3a9c"
        var served = 0
        for c in 0..<4 {
            let client = try CVMBackupTests.Client(port: port)
            for i in 0..<10 {
                let response = try client.get("/\(marker)-\(c)-\(i)")
                // The backend sees the hub's relay as its peer: the CVM did not reach it directly.
                #expect(response.status == 200 && response.body.hasPrefix("peer=10.77.0.1 "), "\(response.status) \(response.body.prefix(40))")
                if response.status == 200 { served += 1 }
            }
        }
        #expect(served == 40)
        // The control: a ping over the same tunnel, its payload a pattern in clear.
        let ping = try CVMNetworkTests.sh("ping -c 3 -i 0.2 -W 2 -p 63766d2d636f6e74726f6c21 \(cvmAddress)")
        #expect(ping.status == 0, "\(ping.output)")
        Thread.sleep(forTimeInterval: 0.5)
        capture.stop()

        let hay = try capture.bytes()
        func contains(_ text: String) -> Bool { contains(Array(text.utf8)) }
        func contains(_ needle: [UInt8]) -> Bool { BridgeCapture.contains(needle, in: hay) }
        #expect(hay.count > 40 * 1000, "the capture holds only \(hay.count) bytes: the requests did not cross the tunnel")
        #expect(contains("cvm-control!"), "the control ping's pattern is not in the capture: the capture would not see plaintext")
        #expect(contains([0x17, 0x03, 0x03]), "no TLS application-data record in the capture")
        #expect(!contains(marker), "a request path crossed the tunnel in clear")
        #expect(!contains("0123456789abcdef0123456789abcdef"), "a response body crossed the tunnel in clear")
        #expect(!contains("HTTP/1.1"), "HTTP crossed the tunnel in clear")
        print("TLS | backup CVM on public host: \(served) requests, \(hay.count) bytes of tunnel captured on cvmbr0, no request or response in clear (control ping seen)")

        // The CVM's data plane took no plaintext: a client on the hub without a certificate
        // gets no answer from its listener.
        let plain = try? CVMBackupTests.Client(port: 8090, host: cvmAddress).get("/plain")
        #expect(plain == nil, "the CVM's listener answered plaintext: \(String(describing: plain))")
        #expect(try cli.run("decommission", "sealed").status == 0)
    }

    /// A serving backup CVM live-migrated from the local host to a public one is served again
    /// in the TLS variant (left out of the vServer meanwhile), and in the plain one when it
    /// comes back; requests work after each move, through the relay while it is on the public
    /// host and straight to the backend from the CVM otherwise.
    @Test func aBackupCVMMovedOntoAPublicHostSwitchesToTLSAndBack() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.environment["CVM_MIGRATION_ADDRESS"] = "10.200.0.1"
        #expect(try cli.addTestBedHost("pub", index: 0, extra: ["--trust", "public"]).status == 0)
        let scene = try CVMBackupTests.Scene.start(cli, cvm: "mover", primaryLimit: 0)
        defer { scene.stop() }
        let (port, cvmAddress, logText) = (scene.port, scene.cvmAddress, scene.logText)
        let plainLine = "CVM services of vServer web-cvm: mover \(cvmAddress):8090\n"
        let tlsLine = "CVM services of vServer web-cvm: mover \(cvmAddress):8090 (TLS)"
        try #require(try eventually(timeout: 40) { logText().contains(plainLine) }, "\(logText().suffix(2000))")
        func expectPeer(_ peer: String, _ step: String) throws {
            do {
                let client = try CVMBackupTests.Client(port: port)
                for i in 0..<5 {
                    let response = try client.get("/\(step)\(i)")
                    #expect(response.status == 200 && response.body.hasPrefix("peer=\(peer) "), "\(step): \(response.status) \(response.body.prefix(40))")
                }
            } catch {
                Issue.record("\(step): \(error); traffic manager: \(logText().suffix(3000))")
                throw error
            }
        }
        try expectPeer(cvmAddress, "local")

        let toPublic = try cli.run("migrate", "mover", "--to", "pub")
        try #require(toPublic.status == 0, "\(toPublic.stderr)")
        let moved = Date()
        try #require(try eventually(timeout: 30) { logText().contains(tlsLine) }, "never served over TLS on the public host: \(logText().suffix(2000))")
        print("TLS | backup CVM migrated onto a public host: in the vServer again over TLS \(String(format: "%.1f", Date().timeIntervalSince(moved))) s after the migration")
        try expectPeer("10.77.0.1", "public")

        let back = try cli.run("migrate", "mover", "--to", "local")
        try #require(back.status == 0, "\(back.stderr)")
        let plainAgain = try eventually(timeout: 30) {
            let text = logText()
            guard let last = text.range(of: "CVM services of vServer web-cvm: mover", options: .backwards) else { return false }
            return text[last.lowerBound...].hasPrefix(plainLine)
        }
        try #require(plainAgain, "not served in plain again after coming back: \(logText().suffix(2000))")
        try expectPeer(cvmAddress, "back")
    }
}
