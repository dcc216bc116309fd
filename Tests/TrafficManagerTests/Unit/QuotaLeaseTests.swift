import Testing
import TMSCore
@testable import TrafficManager

@Suite struct QuotaLeaseTests {
    @Test("a lease releases its use once, however often release is called")
    func releasesOnce() throws {
        let quota = try VServerQuota(PoolConfig(limit: 4, cores: 2))
        #expect(quota.admit(core: 1).isAdmitted)
        #expect(quota.admit(core: 1).isAdmitted)
        let lease = QuotaLease(admittedBy: quota, core: 1)
        #expect(lease.release() != nil)
        #expect(lease.release() == nil)
        #expect(lease.release() == nil)
        #expect(lease.isReleased)
        #expect(quota.inUse(core: 1) == 1, "the other use on the core is untouched")
        #expect(quota.counters(core: 1).released == 1)
    }

    @Test("the release returns a borrowed batch and serves a waiter")
    func releaseServesWaiters() throws {
        let quota = try VServerQuota(PoolConfig(limit: 1, cores: 1), queue: .wait(capacity: 1, timeout: .seconds(1)))
        #expect(quota.admit(core: 0).isAdmitted)
        let lease = QuotaLease(admittedBy: quota, core: 0)
        #expect(quota.admitOrWait(core: 0, ticket: 9, now: .zero) == .queued(position: 1))
        let release = try #require(lease.release(now: .zero))
        #expect(release.waiters.served.map(\.waiter.ticket) == [9])
        #expect(quota.inUse(core: 0) == 1, "the waiter now holds the use")
    }
}
