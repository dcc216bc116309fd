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
        let capture = cli.state + "/bridge.pcap"
        let tcpdump = Process()
        tcpdump.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        // Only QEMU's migration ports (libvirt's 49152–49215): the SSH sessions next to them are
        // encrypted anyway. `-Z root`: the file stays writable in the state folder.
        tcpdump.arguments = ["-i", "cvmbr0", "-Z", "root", "-U", "-s", "0", "-w", capture, "tcp portrange 49152-49215"]
        tcpdump.standardOutput = FileHandle.nullDevice
        tcpdump.standardError = FileHandle.nullDevice
        try tcpdump.run()
        // SIGKILL: a child of this process starts with SIGTERM and SIGINT blocked (inherited
        // from the thread that spawned it), and tcpdump never unblocks them. `-U` has written
        // every packet already.
        func stop() { if tcpdump.isRunning { kill(tcpdump.processIdentifier, SIGKILL); tcpdump.waitUntilExit() } }
        defer { stop() }
        Thread.sleep(forTimeInterval: 1)

        let moved = try cli.run("migrate", "sealed", "--to", "c3")
        Thread.sleep(forTimeInterval: 1)
        stop()
        #expect(moved.status == 0, "\(moved.stderr)")
        try MigrationTests().expectHealthy(cli, "sealed", on: "c3")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: capture))
        // The stream went over the bridge: guest memory and a 64 MiB sparse disk are megabytes.
        #expect(bytes.count > 4 << 20, "the capture holds only \(bytes.count) bytes")
        let secretHex = Data(record.secret.utf8)
        let secret = Data(try #require(Hex.decode(record.secret)))
        // Boyer-Moore-Horspool: Foundation's Data.range(of:) takes minutes over 100 MB.
        let hay = [UInt8](bytes)
        func contains(_ needle: Data) -> Bool {
            let n = [UInt8](needle)
            guard !n.isEmpty, n.count <= hay.count else { return false }
            var shift = [Int](repeating: n.count, count: 256)
            for i in 0..<(n.count - 1) { shift[Int(n[i])] = n.count - 1 - i }
            var i = 0
            while i <= hay.count - n.count {
                var j = n.count - 1
                while j >= 0 && hay[i + j] == n[j] { j -= 1 }
                if j < 0 { return true }
                i += shift[Int(hay[i + n.count - 1])]
            }
            return false
        }
        // And it is TLS: application-data records (type 23, version 3.3) are in the stream.
        #expect(contains(Data([0x17, 0x03, 0x03])), "no TLS record in the migration stream")
        #expect(!contains(secretHex), "the secret (hex) is in the capture")
        #expect(!contains(secret), "the secret (bytes) is in the capture")
        // A control for "plaintext would be seen": text every Linux guest keeps in memory.
        #expect(!contains(Data("Linux version ".utf8)), "guest memory crossed the bridge in clear")
        print("TLS | migration c2 → c3 captured on cvmbr0: \(bytes.count) bytes, secret absent, no guest text in clear")
        #expect(try cli.run("decommission", "sealed").status == 0)
    }
}
