import CVMProtocol
import Foundation
import Orchestrator
import Testing

/// Live migration is encrypted: a capture of the test bed's bridge while a CVM moves between
/// two cloud hosts holds the migration stream (megabytes of it) but neither the CVM's secret
/// (in its disk's first block and in guest memory) nor text any guest kernel keeps in memory.
@Suite(.serialized) struct MigrationTLSTests {
    @Test func aMigrationCarriesNoSecretInClear() throws {
        let cli = try MigrationTests.harness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "sealed", "--host", "c2").status == 0)
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        try MigrationTests().expectHealthy(cli, "sealed", on: "c2")
        let record = try #require(try Store(directory: cli.state).cvm(named: "sealed"))
        // Only QEMU's migration ports (libvirt's 49152–49215): the SSH sessions next to them are
        // encrypted anyway.
        let capture = try BridgeCapture(file: cli.state + "/bridge.pcap", filter: ["tcp portrange 49152-49215"])
        defer { capture.stop() }

        let moved = try cli.run("migrate", "sealed", "--to", "c3")
        Thread.sleep(forTimeInterval: 1)
        capture.stop()
        #expect(moved.status == 0, "\(moved.stderr)")
        try MigrationTests().expectHealthy(cli, "sealed", on: "c3")

        let hay = try capture.bytes()
        func contains(_ needle: Data) -> Bool { BridgeCapture.contains([UInt8](needle), in: hay) }
        // The stream went over the bridge: guest memory and a 64 MiB sparse disk are megabytes.
        #expect(hay.count > 4 << 20, "the capture holds only \(hay.count) bytes")
        let secretHex = Data(record.secret.utf8)
        let secret = Data(try #require(Hex.decode(record.secret)))
        // And it is TLS: application-data records (type 23, version 3.3) are in the stream.
        #expect(contains(Data([0x17, 0x03, 0x03])), "no TLS record in the migration stream")
        #expect(!contains(secretHex), "the secret (hex) is in the capture")
        #expect(!contains(secret), "the secret (bytes) is in the capture")
        // A control for "plaintext would be seen": text every Linux guest keeps in memory.
        #expect(!contains(Data("Linux version ".utf8)), "guest memory crossed the bridge in clear")
        print("TLS | migration c2 → c3 captured on cvmbr0: \(hay.count) bytes, secret absent, no guest text in clear")
        #expect(try cli.run("decommission", "sealed").status == 0)
    }
}
