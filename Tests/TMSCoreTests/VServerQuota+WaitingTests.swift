import Testing
@testable import TMSCore

/// The bounded per-vServer wait queue (SPEC.md §1.1).
@Suite struct VServerQuotaWaitingTests {
    /// 10 on 2 cores with batches of 1: e = 4, S = 2.
    func saturated(capacity: Int = 3, timeout: Duration = .seconds(2)) throws -> VServerQuota {
        let quota = try VServerQuota(PoolConfig(limit: 10, cores: 2), queue: .wait(capacity: capacity, timeout: timeout))
        while quota.admit(core: 0).isAdmitted {}
        while quota.admit(core: 1).isAdmitted {}
        #expect(quota.totalInUse == 10)
        return quota
    }

    @Test func queuedRequestsAreServedInOrderAsQuotaReturns() throws {
        let quota = try saturated()
        #expect(quota.admitOrWait(core: 1, ticket: 1, now: .zero) == .queued(position: 1))
        #expect(quota.admitOrWait(core: 0, ticket: 2, now: .zero) == .queued(position: 2))
        #expect(quota.admitOrWait(core: 1, ticket: 3, now: .zero) == .queued(position: 3))
        #expect(quota.admitOrWait(core: 1, ticket: 4, now: .zero) == .refused(.queueFull))

        // Core 0 held the 2 shared units; each release returns one and serves one waiter.
        let first = quota.release(core: 0, now: .seconds(1))
        #expect(first.returnedToShared == 1)
        #expect(first.waiters.served == [ServedWaiter(waiter: Waiter(core: 1, ticket: 1), source: .newBatch)])
        let second = quota.release(core: 0, now: .seconds(1))
        #expect(second.waiters.served.map(\.waiter.ticket) == [2])
        #expect(quota.waiters.map(\.ticket) == [3])
        // Served requests are counted on their own cores.
        #expect(quota.inUse(core: 1) == 5)
        #expect(quota.counters(core: 1).served == 1)
        #expect(quota.counters(core: 1).queued == 2)
        #expect(quota.counters(core: 1).refused == 1)
        #expect(quota.inspect().ledgerBalances)
        #expect(quota.totalInUse == 10)
    }

    @Test func waitersExpireAfterTheTimeout() throws {
        let quota = try saturated(timeout: .seconds(2))
        _ = quota.admitOrWait(core: 0, ticket: 7, now: .seconds(10))
        _ = quota.admitOrWait(core: 0, ticket: 8, now: .seconds(11))
        #expect(quota.serveWaiters(now: .milliseconds(11_999)).isEmpty)
        let update = quota.serveWaiters(now: .seconds(12))
        #expect(update.expired == [Waiter(core: 0, ticket: 7)])
        // A release after ticket 8's deadline expires it instead of serving it.
        let release = quota.release(core: 1, now: .seconds(13))
        #expect(release.waiters.expired.map(\.ticket) == [8])
        #expect(release.waiters.served.isEmpty)
        #expect(quota.counters(core: 0).expired == 2)
        #expect(quota.waiters.isEmpty)
    }

    @Test func newRequestsDoNotBorrowAheadOfWaiters() throws {
        let quota = try saturated()
        #expect(quota.admitOrWait(core: 0, ticket: 1, now: .zero) == .queued(position: 1))
        // Core 1 frees a unit of its exclusive share: core 1 may use it directly,
        quota.release(core: 1)
        #expect(quota.admitOrWait(core: 1, ticket: 2, now: .zero) == .admitted(.exclusive))
        // but a request that needs the shared pool queues behind ticket 1.
        quota.release(core: 1)   // exclusive unit again, nothing returns to the pool
        #expect(quota.admit(core: 1) == .admitted(.exclusive))
        #expect(quota.admitOrWait(core: 1, ticket: 3, now: .zero) == .queued(position: 2))
        // Core 0 returns a shared unit: ticket 1 first.
        let release = quota.release(core: 0)
        #expect(release.waiters.served.map(\.waiter.ticket) == [1])
        #expect(quota.waiters.map(\.ticket) == [3])
    }

    @Test func cancelledWaitersAreNotServed() throws {
        let quota = try saturated()
        _ = quota.admitOrWait(core: 0, ticket: 1, now: .zero)
        _ = quota.admitOrWait(core: 0, ticket: 2, now: .zero)
        #expect(quota.cancelWaiter(Waiter(core: 0, ticket: 1)))
        #expect(!quota.cancelWaiter(Waiter(core: 0, ticket: 1)))
        #expect(quota.release(core: 0).waiters.served.map(\.waiter.ticket) == [2])
        #expect(quota.inspect().waiting == 0)
    }

    @Test func aLimitIncreaseServesWaiters() throws {
        let quota = try saturated()
        _ = quota.admitOrWait(core: 1, ticket: 5, now: .zero)
        let update = try quota.updateLimit(20)
        #expect(update.waiters.served.map(\.waiter.ticket) == [5])
        #expect(quota.inspect().ledgerBalances)
    }

    @Test func refusePolicyNeverQueues() throws {
        let quota = try VServerQuota(PoolConfig(limit: 2, cores: 1))
        _ = quota.admit(core: 0)
        _ = quota.admit(core: 0)
        #expect(quota.admitOrWait(core: 0, ticket: 1, now: .zero) == .refused(.sharedPoolExhausted))
        #expect(quota.waiters.isEmpty)
    }
}
