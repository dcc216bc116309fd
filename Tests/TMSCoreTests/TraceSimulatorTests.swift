import Testing
@testable import TMSCore

@Suite struct TraceSimulatorTests {
    /// `count` opens on `core` at time `start` + i ms, clients named `prefix`i.
    func opens(_ count: Int, core: Int, prefix: String, start: Int = 0) -> [String] {
        (0..<count).map { "\(Double(start + $0) / 1_000),\(core),open,\(prefix)\($0)" }
    }

    @Test func replaysThroughTheRealPools() throws {
        // 10 on 2 cores: e = 4, S = 2, b = 1. Core 0 takes 4 + 2, then the rule spills.
        let trace = (["time,core,event,client"] + opens(8, core: 0, prefix: "a")).joined(separator: "\n")
        let report = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2))).run(csv: trace)
        #expect(report.cores[0].admitted == 6)
        #expect(report.cores[0].borrowedBatches == 2)
        #expect(report.cores[0].spilled == 2)
        #expect(report.cores[1].admitted == 0)
        #expect(report.peakInUse == 6)
        #expect(report.openAtEnd == 6)
        #expect(report.sizing == (try PoolSizing(limit: 10, cores: 2)))
        #expect(report.total.admitted == 6)
    }

    @Test func withoutABackupRequestsAreRefusedOrQueued() throws {
        let lines = opens(7, core: 0, prefix: "a") + ["0.010,0,close,a0", "0.011,0,close,a1", "0.100,0,close,a2"]
        let trace = lines.joined(separator: "\n")
        let refusing = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2), spillToBackup: false))
        let refused = try refusing.run(csv: trace)
        #expect(refused.cores[0].admitted == 6)
        #expect(refused.cores[0].refused == 1)
        #expect(refused.cores[0].spilled == 0)

        let queueing = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2),
                                                     queue: .wait(capacity: 5, timeout: .milliseconds(50)),
                                                     spillToBackup: false))
        let queued = try queueing.run(csv: trace)
        // The 7th waits and is served when a0 closes (its core returns a borrowed unit).
        #expect(queued.cores[0].queued == 1)
        #expect(queued.cores[0].servedFromQueue == 1)
        #expect(queued.cores[0].admitted == 7)
        #expect(queued.peakInUse == 6)
        #expect(queued.openAtEnd == 4)
    }

    @Test func waitsTimeOut() throws {
        let trace = (opens(7, core: 0, prefix: "a") + ["1.000,0,close,a0"]).joined(separator: "\n")
        let simulator = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2),
                                                      queue: .wait(capacity: 5, timeout: .milliseconds(50)),
                                                      spillToBackup: false))
        let report = try simulator.run(csv: trace)
        #expect(report.cores[0].queued == 1)
        #expect(report.cores[0].expired == 1)
        #expect(report.cores[0].refused == 1)   // a timed-out wait counts as refused
        #expect(report.waitingAtEnd == 0)
    }

    @Test func closesOfSpilledOrRefusedClientsAreIgnored() throws {
        let trace = (opens(8, core: 0, prefix: "a") + ["0.1,0,close,a7", "0.2,0,open,a7"]).joined(separator: "\n")
        let report = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2))).run(csv: trace)
        #expect(report.cores[0].spilled == 3)   // a6, a7, and a7 again
    }

    @Test(arguments: [
        ("0,2,open,a", "line 1: core 2 does not exist (cores 0...1)"),
        ("0,0,open,a\n1,0,open,a", "line 2: client a opens again without closing"),
        ("0,0,close,zz", "line 1: client zz closes but never opened"),
        ("0,0,open,a\n1,1,close,a", "line 2: client a was opened on core 0 but closes on core 1"),
        ("0,0,open,a\n1,0,shut,a", "line 2: event 'shut' is neither open nor close"),
    ])
    func badTracesNameTheLine(trace: String, message: String) throws {
        let simulator = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2)))
        #expect(throws: TraceError.self) { try simulator.run(csv: trace) }
        do {
            _ = try simulator.run(csv: trace)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func countsAgreeWithTheTraceForAnyInterleaving() throws {
        // A deterministic pseudo-random trace: every open is admitted, spilled, queued or
        // refused exactly once, and the peak never exceeds the limit.
        var random = SplitMix(seed: 42)
        var lines: [String] = []
        var open: [(String, Int)] = []
        var opened = 0
        for step in 0..<3_000 {
            if !open.isEmpty && random.next() % 5 < 2 {
                let (client, core) = open.remove(at: Int(random.next() % UInt64(open.count)))
                lines.append("\(step),\(core),close,\(client)")
            } else {
                let core = Int(random.next() % 3)
                lines.append("\(step),\(core),open,c\(step)")
                open.append(("c\(step)", core))
                opened += 1
            }
        }
        for spill in [true, false] {
            let simulator = try TraceSimulator(options: .init(config: PoolConfig(limit: 40, cores: 3),
                                                          queue: .wait(capacity: 4, timeout: .seconds(3)),
                                                          spillToBackup: spill))
            let report = try simulator.run(csv: lines.joined(separator: "\n"))
            let total = report.total
            #expect(total.admitted - total.servedFromQueue + total.spilled + total.queued
                        + (total.refused - total.expired) == opened)
            #expect(report.peakInUse <= 40)
            #expect(report.peakInUse >= 30)   // the trace keeps far more than 40 clients open
        }
    }
}

extension TraceSimulatorTests {
    @Test func anInvalidConfigurationIsRejectedUpFront() {
        #expect(throws: PoolConfigError.invalidCoreCount(0)) {
            try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 0)))
        }
        #expect(throws: PoolConfigError.limitTooLarge(VServerQuota.maximumLimit + 1, maximum: VServerQuota.maximumLimit)) {
            try TraceSimulator(options: .init(config: PoolConfig(limit: VServerQuota.maximumLimit + 1, cores: 1)))
        }
    }
}
