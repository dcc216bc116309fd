import Foundation
import Orchestrator
import Testing

/// A hostile guest floods its channel — garbage, over-long lines and validly signed
/// heartbeats in turn, as fast as virtio-serial takes them (the agent's `cvm.flood=mixed`
/// test hook, set through a copied image manifest) — next to a calm CVM, while `cvmctl
/// monitor` watches both. The host must pay a bounded price: the calm CVM's heartbeats are
/// recorded on time, the flooder's row is written at most once per interval, its rejected
/// lines give at most one warning per 10 s, `status` stays quick, and the flooder still
/// obeys `decommission`.
@Suite(.serialized) struct FloodTests {
    /// A copy of the catalog whose cvm-base boots with `cvm.flood=MODE` on its command line.
    static func floodingCatalog(_ cli: CLIHarness, mode: String) throws -> String {
        let root = try cli.copyCatalog()
        let manifest = root + "/cvm-base/manifest.yaml"
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        let flooding = text.replacingOccurrences(of: "panic=-1\"", with: "panic=-1 cvm.flood=\(mode)\"")
        try #require(flooding != text, "the manifest's cmdline changed: update this test")
        try flooding.write(toFile: manifest, atomically: true, encoding: .utf8)
        return root
    }

    @Test func aFloodingGuestCostsTheHostABoundedAmount() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        let plain = cli.images
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "calm").status == 0)
        cli.images = try Self.floodingCatalog(cli, mode: "mixed")
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", "loud")
        cli.images = plain
        try #require(deployed.status == 0, "\(deployed.stderr)")

        let log = cli.state + "/monitor.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let monitor = cli.process(["monitor", "-v"])
        monitor.standardOutput = FileHandle.nullDevice
        monitor.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try monitor.run()
        defer { if monitor.isRunning { monitor.terminate(); monitor.waitUntilExit() } }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })

        let store = try Store(directory: cli.state)
        // The monitor has both channels open and records heartbeats (the rows' last ones
        // date from the deploys until then).
        let watching = try eventually(timeout: 15) {
            try ["calm", "loud"].allSatisfy { name in
                try store.cvm(named: name)?.lastHeartbeatAt.map { Date().timeIntervalSince($0) < 1.5 } ?? false
            }
        }
        try #require(watching, "the monitor did not start recording heartbeats")
        let loudID = try #require(try store.cvm(named: "loud")).id
        let started = Date()
        let firstSeq = try store.cvm(named: "loud")?.lastSeq ?? 0
        var writes: Set<Date> = []
        var oldestCalm: TimeInterval = 0
        var states: Set<String> = []
        var slowestStatus: TimeInterval = 0
        var lastStatusAt = Date.distantPast
        while Date().timeIntervalSince(started) < 12 {
            let calm = try #require(try store.cvm(named: "calm")), loud = try #require(try store.cvm(named: "loud"))
            if let heard = calm.lastHeartbeatAt { oldestCalm = max(oldestCalm, Date().timeIntervalSince(heard)) }
            if let heard = loud.lastHeartbeatAt { writes.insert(heard) }
            states.formUnion([calm.state.rawValue, loud.state.rawValue])
            if Date().timeIntervalSince(lastStatusAt) > 3 {
                let asked = Date()
                _ = try cli.status()
                slowestStatus = max(slowestStatus, Date().timeIntervalSince(asked))
                lastStatusAt = Date()
            }
            usleep(100_000)
        }
        let seconds = Date().timeIntervalSince(started)
        let seqs = (try store.cvm(named: "loud")?.lastSeq ?? 0) - firstSeq
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        let warnings = logText.split(separator: "\n").filter { $0.contains("rejected messages") && $0.contains(loudID) }.count
        print("FLOOD | \(String(format: "%.0f", seconds)) s: the flooder sent \(seqs) signed heartbeats, its row was written \(writes.count) times; \(warnings) warnings about its garbage; the calm CVM's last heartbeat was at most \(String(format: "%.1f", oldestCalm)) s old; slowest status \(String(format: "%.1f", slowestStatus)) s")

        #expect(states == ["running"], "states seen: \(states)")
        // It did flood: far more signed heartbeats than one per second.
        #expect(seqs > Int64(seconds) * 10, "the flooder sent only \(seqs) heartbeats in \(seconds) s")
        // At most one write per interval (1 s), plus the edges of the window.
        #expect(writes.count <= Int(seconds) + 2, "the flooder's row was written \(writes.count) times in \(seconds) s")
        #expect(warnings >= 1 && warnings <= Int(seconds / 10) + 2, "\(warnings) warnings in \(seconds) s")
        // Below the silence that would fail it (3 intervals); 1-2 s expected.
        #expect(oldestCalm < 3, "the calm CVM's heartbeat was \(oldestCalm) s old")
        #expect(slowestStatus < 5)

        monitor.terminate()
        monitor.waitUntilExit()
        #expect(try cli.run("decommission", "loud").status == 0)
        #expect(try cli.run("decommission", "calm").status == 0)
        for name in ["loud", "calm"] { #expect(try cli.traces(of: name) == []) }
    }
}
