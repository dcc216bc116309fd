import Testing
@testable import TMSCore

/// Admission and release on one vServer (SPEC.md §1.1), single-threaded.
@Suite struct VServerQuotaTests {
    /// 100 on 2 cores: 40 exclusive per core, 20 shared, batches of 2.
    func quota(queue: QueuePolicy = .refuse, limit: Int = 100, cores: Int = 2) throws -> VServerQuota {
        try VServerQuota(PoolConfig(limit: limit, cores: cores), queue: queue)
    }

    @Test func admitsTheExclusiveShareWithoutBorrowing() throws {
        let quota = try quota()
        let sizing = quota.sizing
        for _ in 0..<sizing.perCoreExclusive {
            #expect(quota.admit(core: 0) == .admitted(.exclusive))
        }
        #expect(quota.sharedAvailable == sizing.sharedPool)
        #expect(quota.counters(core: 0).borrowedBatches == 0)
        #expect(quota.inUse(core: 0) == sizing.perCoreExclusive)
    }

    @Test func borrowsABatchBeyondTheExclusiveShare() throws {
        let quota = try quota()
        let sizing = quota.sizing
        for _ in 0..<sizing.perCoreExclusive { _ = quota.admit(core: 0) }
        #expect(quota.admit(core: 0) == .admitted(.newBatch))
        #expect(quota.sharedAvailable == sizing.sharedPool - sizing.batch)
        // The rest of the batch is used without touching the pool again.
        for _ in 1..<sizing.batch { #expect(quota.admit(core: 0) == .admitted(.heldBatch)) }
        #expect(quota.sharedAvailable == sizing.sharedPool - sizing.batch)
        let state = quota.inspect()
        #expect(state.cores[0].held == sizing.batch)
        #expect(state.cores[0].borrowedInUse == sizing.batch)
        #expect(state.ledgerBalances)
        #expect(quota.counters(core: 0).borrowedBatches == 1)
    }

    @Test func refusesWhenTheSharedPoolCannotLendABatch() throws {
        let quota = try quota()
        let sizing = quota.sizing
        var admitted = 0
        while quota.admit(core: 0).isAdmitted { admitted += 1 }
        // Core 0 took its share and the whole shared pool; exactly L - (core 1's share).
        #expect(admitted == sizing.perCoreExclusive + sizing.sharedPool)
        #expect(quota.admit(core: 0) == .refused(.sharedPoolExhausted))
        // Core 1 still has its exclusive share.
        #expect(quota.admit(core: 1) == .admitted(.exclusive))
        #expect(quota.counters(core: 0).refused == 2)
    }

    @Test func answersWouldQueueWhenTheVServerQueues() throws {
        let quota = try quota(queue: .wait(capacity: 4, timeout: .seconds(1)))
        while quota.admit(core: 0).isAdmitted {}
        #expect(quota.admit(core: 0) == .wouldQueue(.sharedPoolExhausted))
        #expect(quota.counters(core: 0).refused == 0)
    }

    @Test func releaseReturnsABatchOnlyWhenAWholeBatchIsSpare() throws {
        let quota = try quota()
        let sizing = quota.sizing   // e = 40, b = 2
        for _ in 0..<(sizing.perCoreExclusive + 2 * sizing.batch) { #expect(quota.admit(core: 0).isAdmitted) }
        #expect(quota.inspect().cores[0].held == 2 * sizing.batch)
        // 44 in use, capacity 44. One release: 1 spare < b: keep.
        #expect(quota.release(core: 0).returnedToShared == 0)
        // Second release: 2 spare = b: one batch back.
        #expect(quota.release(core: 0).returnedToShared == sizing.batch)
        #expect(quota.inspect().cores[0].held == sizing.batch)
        #expect(quota.release(core: 0).returnedToShared == 0)
        #expect(quota.release(core: 0).returnedToShared == sizing.batch)
        #expect(quota.inspect().cores[0].held == 0)
        // Within the exclusive share nothing goes back.
        #expect(quota.release(core: 0).returnedToShared == 0)
        #expect(quota.sharedAvailable == sizing.sharedPool)
        #expect(quota.counters(core: 0).returnedBatches == 2)
        #expect(quota.counters(core: 0).released == 5)
    }

    @Test func everyUseIsBorrowedWhenTheExclusiveNumberIsZero() throws {
        let quota = try VServerQuota(PoolConfig(limit: 5, cores: 7))   // e = 0, S = 5, b = 1
        #expect(quota.admit(core: 3) == .admitted(.newBatch))
        #expect(quota.admit(core: 3) == .admitted(.newBatch))
        #expect(quota.admit(core: 6) == .admitted(.newBatch))
        #expect(quota.sharedAvailable == 2)
        #expect(quota.release(core: 3).returnedToShared == 1)
        #expect(quota.inspect().ledgerBalances)
    }

    @Test func totalNeverExceedsTheLimitWhateverTheCoreMix() throws {
        let quota = try VServerQuota(PoolConfig(limit: 100, cores: 7))
        var admitted = 0
        for round in 0..<1_000 where quota.admit(core: round % 7).isAdmitted { admitted += 1 }
        #expect(admitted <= 100)
        #expect(quota.totalInUse == admitted)
        // With batches of 2 from 23 shared, one unit cannot be lent: 77 + 22 at most.
        #expect(admitted >= 100 - quota.sizing.batch + 1)
        #expect(quota.inspect().ledgerBalances)
    }

    @Test func limitAboveTheRepresentableMaximumIsRejected() {
        #expect(throws: PoolConfigError.limitTooLarge(VServerQuota.maximumLimit + 1, maximum: VServerQuota.maximumLimit)) {
            try VServerQuota(PoolConfig(limit: VServerQuota.maximumLimit + 1, cores: 1))
        }
    }
}
