import Testing
@testable import TMSCore

/// The spillover decision of a vServer's quota (SPEC.md §1.1).
@Suite struct VServerQuotaSpilloverTests {
    @Test func spillsOnlyWhenTheCoreIsAtT1AndTheSharedPoolAtT2() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))   // e = 40, S = 20, b = 2
        for _ in 0..<39 { _ = quota.admit(core: 0) }
        #expect(quota.spilloverDecision(core: 0) == .primary)      // below T1
        _ = quota.admit(core: 0)
        #expect(quota.spilloverDecision(core: 0) == .primary)      // at T1, pool not empty
        while quota.admit(core: 0).isAdmitted {}
        #expect(quota.sharedAvailable == 0)
        #expect(quota.spilloverDecision(core: 0) == .backup)       // at T1 and pool empty
        #expect(quota.spilloverDecision(core: 1) == .primary)      // core 1 has its share
        #expect(quota.counters(core: 0).spilled == 1)
    }

    @Test func newRequestsReturnToThePrimaryOnceUsageFalls() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))
        while quota.admit(core: 0).isAdmitted {}
        #expect(quota.spilloverDecision(core: 0) == .backup)
        // Releases return batches to the pool: usage is back under T2.
        quota.release(core: 0)
        quota.release(core: 0)
        #expect(quota.sharedAvailable == 2)
        #expect(quota.spilloverDecision(core: 0) == .primary)
    }

    @Test func percentageThresholdsSpillEarlier() throws {
        let config = PoolConfig(limit: 100, cores: 2, t1: .percent(Percentage(50)!), t2: .percent(Percentage(50)!))
        let quota = try VServerQuota(config)   // T1 = 20 uses, T2 = 10 available
        for _ in 0..<20 { _ = quota.admit(core: 1) }
        #expect(quota.spilloverDecision(core: 1) == .primary)   // pool still 20
        for _ in 0..<50 { _ = quota.admit(core: 0) }           // 40 exclusive + 10 borrowed: pool 10
        #expect(quota.sharedAvailable == 10)
        #expect(quota.spilloverDecision(core: 1) == .backup)
        #expect(quota.spilloverDecision(core: 0) == .backup)
    }

    /// Issue 11 item 11: borrowed quota the core holds and does not use counts as its own.
    @Test func neverSpillsWhileTheCoreHoldsBorrowedQuotaItDoesNotUse() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))   // e = 40, S = 20, b = 2
        for _ in 0..<41 { #expect(quota.admit(core: 0).isAdmitted) }   // 40 exclusive + 1 of a batch of 2
        for _ in 0..<58 { #expect(quota.admit(core: 1).isAdmitted) }   // 40 exclusive + the other 9 batches
        #expect(quota.sharedAvailable == 0)
        #expect(quota.inspect().cores[0].unusedHeld == 1)
        // Core 0 is past T1 and the pool is empty, but it can admit from its own batch.
        #expect(quota.spilloverDecision(core: 0) == .primary)
        #expect(quota.admit(core: 0) == .admitted(.heldBatch))
        // Now it holds nothing unused: the rule applies.
        #expect(quota.spilloverDecision(core: 0) == .backup)
        #expect(quota.spilloverDecision(core: 1) == .backup)
        #expect(quota.totalInUse == 100)
        #expect(quota.counters(core: 0).spilled == 1)
    }

    /// Issue 11 item 11: with default thresholds the vServer spills (every core sends new
    /// requests to the backup) exactly when L uses are in place, never earlier — whatever the
    /// order requests arrive on the cores. Configurations whose shared pool is a whole number
    /// of batches, so that L can be reached with defaults.
    @Test(arguments: [(100, 1), (100, 2), (1_000, 4), (500, 5), (300, 2), (60, 4), (37, 3)])
    func withDefaultThresholdsSpillingStartsExactlyAtTheLimit(limit: Int, cores: Int) throws {
        let quota = try VServerQuota(PoolConfig(limit: limit, cores: cores))
        let sizing = quota.sizing
        try #require(sizing.sharedPool % sizing.batch == 0)
        for order in 0..<3 {
            var random = SplitMix(seed: UInt64(order))
            var spillingCores: Set<Int> = []
            var requests = 0
            while spillingCores.count < cores {
                requests += 1
                try #require(requests <= 10 * limit)
                // Order 0: round robin; 1: one core after the other; 2: random.
                let core: Int
                switch order {
                case 0: core = requests % cores
                case 1: core = spillingCores.count
                default: core = Int(random.next() % UInt64(cores))
                }
                let before = quota.inspect()
                if quota.spilloverDecision(core: core) == .backup {
                    // A core spills only once it has no unused quota of its own and the pool is empty.
                    #expect(before.cores[core].inUse == before.cores[core].capacity, "order \(order)")
                    #expect(before.sharedAvailable == 0, "order \(order)")
                    spillingCores.insert(core)
                } else {
                    #expect(quota.admit(core: core).isAdmitted, "order \(order): sent to the primary, then refused")
                }
            }
            #expect(quota.totalInUse == limit, "order \(order)")
            for core in 0..<cores { while quota.inUse(core: core) > 0 { quota.release(core: core) } }
            #expect(quota.sharedAvailable == sizing.sharedPool)
        }
    }

    @Test func anOverdrawnPoolSpillsCoresAtT1() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))
        for _ in 0..<60 { _ = quota.admit(core: 0) }
        try quota.updateLimit(30)   // e = 12, S = 6: core 0 owes
        #expect(quota.isOverLimit)
        #expect(quota.spilloverDecision(core: 0) == .backup)
        #expect(quota.spilloverDecision(core: 1) == .primary)   // 0 in use < T1 = 12
    }
}
