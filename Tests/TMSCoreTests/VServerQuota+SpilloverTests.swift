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

    @Test func anOverdrawnPoolSpillsCoresAtT1() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))
        for _ in 0..<60 { _ = quota.admit(core: 0) }
        try quota.updateLimit(30)   // e = 12, S = 6: core 0 owes
        #expect(quota.isOverLimit)
        #expect(quota.spilloverDecision(core: 0) == .backup)
        #expect(quota.spilloverDecision(core: 1) == .primary)   // 0 in use < T1 = 12
    }
}
