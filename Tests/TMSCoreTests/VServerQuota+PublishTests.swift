import Testing
@testable import TMSCore

/// The dynamic limit: recomputation, publication and re-classification (SPEC.md §1.1).
@Suite struct VServerQuotaPublishTests {
    /// Limits that give an exclusive number of 9 and 15 per core on 2 cores at 80 %.
    static let limitFor9 = 23    // floor(18.4) = 18 = 2 * 9, S = 5, b = 1
    static let limitFor15 = 38   // floor(30.4) = 30 = 2 * 15, S = 8, b = 1

    func admit(_ quota: VServerQuota, core: Int, _ count: Int) {
        for _ in 0..<count { #expect(quota.admit(core: core).isAdmitted) }
    }

    @Test func twelveInUseWhileExclusiveRisesFrom9To15() throws {
        let quota = try VServerQuota(PoolConfig(limit: Self.limitFor9, cores: 2))
        #expect(quota.sizing.perCoreExclusive == 9)
        admit(quota, core: 0, 12)
        let before = quota.inspect()
        #expect(before.cores[0].borrowedInUse == 3)
        #expect(before.cores[0].held == 3)
        #expect(before.sharedAvailable == before.sizing.sharedPool - 3)

        let update = try quota.updateLimit(Self.limitFor15)
        #expect(update.sizing.perCoreExclusive == 15)
        #expect(!update.overLimit)
        let after = quota.inspect()
        // The 3 borrowed are now exclusive; the held quota went back to the pool.
        #expect(after.cores[0].inUse == 12)
        #expect(after.cores[0].borrowedInUse == 0)
        #expect(after.cores[0].held == 0)
        #expect(after.sharedAvailable == after.sizing.sharedPool)
        #expect(after.ledgerBalances)
        #expect(after.generation == before.generation + 1)
        // And the core now admits 3 more without borrowing.
        for _ in 0..<3 { #expect(quota.admit(core: 0) == .admitted(.exclusive)) }
    }

    @Test func twelveInUseWhileExclusiveFallsFrom15To9() throws {
        let quota = try VServerQuota(PoolConfig(limit: Self.limitFor15, cores: 2))
        admit(quota, core: 0, 12)
        #expect(quota.inspect().cores[0].held == 0)

        let update = try quota.updateLimit(Self.limitFor9)
        #expect(update.sizing.perCoreExclusive == 9)
        let after = quota.inspect()
        // 3 in use now count as borrowed, taken from the (smaller) shared pool.
        #expect(after.cores[0].inUse == 12)
        #expect(after.cores[0].borrowedInUse == 3)
        #expect(after.cores[0].held == 3)
        #expect(after.sharedAvailable == after.sizing.sharedPool - 3)
        #expect(after.ledgerBalances)
        #expect(!update.overLimit)
    }

    @Test func decreaseBelowTheUsesInFlightPausesAdmissionsUntilUnderTheLimit() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 2))
        admit(quota, core: 0, 50)
        admit(quota, core: 1, 40)
        let update = try quota.updateLimit(50)   // e = 20, S = 10, b = 1
        #expect(update.overLimit)
        var state = quota.inspect()
        // Nothing was revoked; the excess shows as an overdrawn shared pool.
        #expect(state.totalInUse == 90)
        #expect(state.sharedAvailable == 10 - (30 + 20))
        #expect(state.ledgerBalances)
        #expect(state.withinLimitOrPaused)
        #expect(quota.isOverLimit)
        // Nothing is admitted, on any core, even within an exclusive share.
        #expect(quota.admit(core: 0) == .refused(.overLimit))
        #expect(quota.admit(core: 1) == .refused(.overLimit))

        // Release until the pool is back to zero: 40 releases.
        var released = 0
        while quota.isOverLimit {
            quota.release(core: released % 2)
            released += 1
            if quota.isOverLimit { #expect(!quota.admit(core: 0).isAdmitted) }
        }
        state = quota.inspect()
        #expect(state.totalInUse == 50)
        #expect(released == 40)
        #expect(state.ledgerBalances)
        // At exactly the limit, still nothing to admit until one more use ends.
        #expect(!quota.admit(core: 0).isAdmitted && !quota.admit(core: 1).isAdmitted)
        quota.release(core: 1)
        #expect(quota.admit(core: 1).isAdmitted)
        #expect(quota.totalInUse == 50)
    }

    @Test func serviceFlipsDriveTheLimit() throws {
        var services = try ServiceCapacities([
            .init(name: "a", capacity: 60), .init(name: "b", capacity: 40), .init(name: "c", capacity: 25, isUp: false),
        ])
        let quota = try VServerQuota(PoolConfig(limit: services.limit, cores: 2))
        #expect(quota.sizing.limit == 100)
        admit(quota, core: 0, 45)
        try services.setUp("b", false)
        var update = try quota.apply(services)
        #expect(update.sizing.limit == 60)
        #expect(update.sizing == (try PoolSizing(limit: 60, cores: 2)))
        try services.setUp("c", true)
        update = try quota.apply(services)
        #expect(update.sizing.limit == 85)
        let state = quota.inspect()
        #expect(state.ledgerBalances && state.coresConsistent)
        #expect(state.totalInUse == 45)
        #expect(quota.generation == 2)
    }

    @Test func percentagesAndThresholdsCanBeRepublished() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 4))
        admit(quota, core: 2, 30)
        let config = PoolConfig(limit: 100, cores: 4, exclusivePercent: Percentage(50)!,
                                batchPercent: Percentage(20)!, t1: .absolute(3), t2: .percent(Percentage(50)!))
        let update = try quota.reconfigure(config)
        #expect(update.sizing == (try PoolSizing(config)))
        let state = quota.inspect()
        #expect(state.cores[2].held == 30 - 12)   // e = 12
        #expect(state.ledgerBalances)
        #expect(quota.config == config)
        #expect(throws: PoolConfigError.coreCountMismatch(expected: 4, got: 3)) {
            try quota.reconfigure(PoolConfig(limit: 10, cores: 3))
        }
        #expect(throws: PoolConfigError.negativeLimit(-5)) { try quota.updateLimit(-5) }
        #expect(quota.generation == 1)   // failed publishes change nothing
    }

    @Test func anIdleCoreIsReclassifiedAsExactlyAsABusyOne() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 3))   // e = 26, S = 22
        admit(quota, core: 1, 30)
        // Many publishes while core 1 does nothing.
        for limit in [90, 120, 40, 300, 31, 100] { try quota.updateLimit(limit) }
        let state = quota.inspect()
        #expect(state.cores[1].held == max(0, 30 - state.sizing.perCoreExclusive))
        #expect(state.ledgerBalances)
        #expect(state.cores.allSatisfy { $0.exclusive == state.sizing.perCoreExclusive })
    }
}
