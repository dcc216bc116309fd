import Atomics
import PropertyBased
import Testing
@testable import TMSCore

@Suite struct BandwidthPoolTests {
    /// 10 MB/s in 100 ms intervals on 2 cores: budget 1 000 000 bytes per interval,
    /// 400 000 exclusive per core, 200 000 shared in batches of 20 000.
    func pool() throws -> BandwidthPool {
        try BandwidthPool(bytesPerSecond: 10_000_000, interval: .milliseconds(100), cores: 2)
    }

    @Test func usesThePoolArithmetic() throws {
        let pool = try pool()
        #expect(pool.sizing == (try PoolSizing(limit: 1_000_000, cores: 2)))
        #expect(pool.sizing.perCoreExclusive == 400_000)
        #expect(pool.sizing.sharedPool == 200_000)
        #expect(pool.sizing.batch == 20_000)
        #expect(BandwidthPool.budget(bytesPerSecond: 1_000, interval: .milliseconds(1_500)) == 1_500)
        #expect(BandwidthPool.budget(bytesPerSecond: 7, interval: .milliseconds(100)) == 0)   // 0.7
    }

    @Test func grantsTheExclusiveBudgetThenBorrowsBatches() throws {
        let pool = try pool()
        var meter = pool.meter(core: 0)
        #expect(meter.consume(400_000, now: .zero) == 400_000)
        #expect(pool.sharedAvailable(at: .zero) == 200_000)
        #expect(meter.consume(30_000, now: .milliseconds(10)) == 30_000)   // 2 batches borrowed
        #expect(pool.sharedAvailable(at: .zero) == 160_000)
        #expect(meter.held == 40_000)
        #expect(meter.consume(10_000, now: .milliseconds(20)) == 10_000)   // from what it holds
        #expect(pool.sharedAvailable(at: .zero) == 160_000)
        // Everything left: 160 000 shared.
        #expect(meter.consume(1_000_000, now: .milliseconds(30)) == 160_000)
        #expect(meter.consume(1, now: .milliseconds(99)) == 0)
        #expect(pool.counters(core: 0).grantedBytes == 600_000)
        #expect(pool.counters(core: 0).deniedBytes == 840_001)
        #expect(pool.counters(core: 0).borrowedBatches == 10)
    }

    @Test func theBudgetRefillsEveryInterval() throws {
        let pool = try pool()
        var meter = pool.meter(core: 1)
        #expect(meter.consume(700_000, now: .milliseconds(50)) == 600_000)
        #expect(meter.consume(700_000, now: .milliseconds(100)) == 600_000)   // next interval
        #expect(meter.epoch == 1)
        #expect(pool.sharedAvailable(at: .milliseconds(150)) == 0)
        #expect(pool.sharedAvailable(at: .milliseconds(250)) == 200_000)
    }

    @Test func aCoreBehindTheSharedPoolsIntervalCannotBorrow() throws {
        let pool = try pool()
        var late = pool.meter(core: 0)
        var early = pool.meter(core: 1)
        #expect(late.consume(400_000, now: .milliseconds(90)) == 400_000)
        #expect(early.consume(450_000, now: .milliseconds(110)) == 450_000)   // pool moved to interval 1
        // Core 0 still reports times in interval 0: it may not borrow interval 1's bytes.
        #expect(late.consume(10, now: .milliseconds(95)) == 0)
    }

    @Test func neverGrantsMoreThanTheBudgetPerInterval() async {
        await propertyCheck(
            input: Gen.int(in: 1...4), Gen.int(in: 0...50_000), Gen.int(in: 0...10_000),
            zip(Gen.int(in: 0...3), Gen.int(in: 0...9_999), Gen.int(in: 0...4_000)).array(of: 1...200)
        ) { cores, bytesPerSecond, batchBP, requests in
            let pool = try BandwidthPool(bytesPerSecond: bytesPerSecond, interval: .seconds(1), cores: cores,
                                         batchPercent: Percentage(basisPoints: batchBP)!)
            var meters = (0..<cores).map { pool.meter(core: $0) }
            var granted: [Int: Int] = [:]
            var clock = 0
            for (core, advance, bytes) in requests {
                clock += advance / 20 * 10   // milliseconds, non-decreasing
                let now = Duration.milliseconds(clock)
                let got = meters[core % cores].consume(bytes, now: now)
                #expect(got >= 0 && got <= bytes)
                granted[clock / 1_000, default: 0] += got
                let meter = meters[core % cores]
                #expect(meter.used <= pool.sizing.perCoreExclusive + meter.held)
            }
            for (interval, total) in granted {
                #expect(total <= pool.sizing.limit, "interval \(interval): \(total) > \(pool.sizing.limit)")
            }
        }
    }

    @Test func concurrentCoresStayWithinEachIntervalsBudget() throws {
        let cores = 4
        let pool = try BandwidthPool(bytesPerSecond: 400_000, interval: .milliseconds(10), cores: cores)
        let intervals = 300
        let granted = (0..<intervals).map { _ in ManagedAtomic<Int>(0) }
        let requests = (runningUnderThreadSanitizer ? 2_000 : 20_000) / intervals
        runThreads(cores) { core in
            var meter = pool.meter(core: core)
            var random = SplitMix(seed: UInt64(core))
            for interval in 0..<intervals {
                for step in 0..<requests {
                    let now = Duration.microseconds(interval * 10_000 + step * 10_000 / requests)
                    let got = meter.consume(Int(random.next() % 600), now: now)
                    granted[interval].wrappingIncrement(by: got, ordering: .relaxed)
                }
            }
        }
        let budget = pool.sizing.limit   // 4 000 bytes per 10 ms
        #expect(granted.allSatisfy { $0.load(ordering: .relaxed) <= budget })
        #expect(granted.contains { $0.load(ordering: .relaxed) > budget / 2 }, "the pool was never contended")
        #expect((0..<cores).contains { pool.counters(core: $0).borrowedBatches > 0 })
    }
}
