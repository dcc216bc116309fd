import CVMProtocol
import Foundation
@testable import Orchestrator
@testable import Planning
import Testing

/// A guest controls every figure it sends: none of them may trap the host's arithmetic.
@Suite struct GuestFiguresTests {
    static func hostile(seq: UInt64) -> Heartbeat {
        Heartbeat(id: "x", boot: 1, seq: seq, uptimeMs: .max, status: .ok, task: "t", cpuPercent: .infinity,
                  memUsedKiB: .max, memTotalKiB: .max, diskReadBytes: .max, diskWriteBytes: .max,
                  netRxBytes: .max, netTxBytes: .max, connections: .max, badCommands: .max)
    }

    @Test func aHeartbeatAtTheLimitsIsRecordedWithinBounds() {
        var record = StoreTests.record("web")
        record.apply(Self.hostile(seq: .max), at: Date())
        #expect(record.memUsedKiB == GuestFigures.maxKiB)
        #expect(record.netRxBytes == GuestFigures.maxBytes)
        #expect(record.connections == GuestFigures.maxCount)
        #expect(record.cpuPercent == 0, "a non-finite CPU figure counts as nothing")
        #expect(GuestFigures.bytes(kibibytes: record.memTotalKiB!) == GuestFigures.maxKiB * 1024)
    }

    @Test func usageSumsOverHostileRecordsDoNotTrap() {
        var usage = HeartbeatUsage()
        let now = Date()
        var records: [CVMRecord] = []
        for i in 0..<1000 {
            var r = StoreTests.record("c\(i)")
            r.state = .running
            r.policyCommit = "c"
            r.apply(Self.hostile(seq: 1), at: now)
            records.append(r)
        }
        _ = usage.observe(records, now: now)
        let second = usage.observe(records.map { var r = $0; r.lastHeartbeatAt = now.addingTimeInterval(1); return r },
                                   now: now.addingTimeInterval(1))
        #expect(second["t"]?[.cpuPercent] == 0)
        let memory = second["t"]?[.memoryMiB] ?? 0
        #expect(memory.isFinite && memory > 0)
        // A store written before figures were bounded may hold anything: sums saturate.
        var old = StoreTests.record("old")
        old.netRxBytes = .max; old.netTxBytes = .max; old.memUsedKiB = .max
        #expect(GuestFigures.sum(old.netRxBytes!, old.netTxBytes!) == .max)
        #expect(GuestFigures.bytes(kibibytes: .max) == .max)
    }
}
