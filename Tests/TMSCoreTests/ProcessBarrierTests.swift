import Testing
@testable import TMSCore

/// The process-wide barrier behind the quota's plain fast path.
@Suite struct ProcessBarrierTests {
    #if os(Linux)
    /// Linux has had membarrier(2) PRIVATE_EXPEDITED since 4.14: the fast path must be the
    /// plain one here (the benchmarks and the stress tests exercise that path).
    @Test func isAvailableOnLinux() throws {
        #expect(ProcessBarrier.isAvailable)
        ProcessBarrier.synchronize()
        let quota = try VServerQuota(PoolConfig(limit: 10, cores: 2))
        #expect(quota.plainFastPath)
    }
    #endif

    /// Intruding on a core from the core's own thread (a release that serves its own core's
    /// waiter) neither deadlocks nor leaves the core off its fast path.
    @Test func intrudingFromTheCoresOwnThread() throws {
        let quota = try VServerQuota(PoolConfig(limit: 10, cores: 2))
        let count = quota.intruding(0..<2) { quota.intruders(0).load(ordering: .relaxed) }
        #expect(count == (quota.plainFastPath ? 1 : 0))
        #expect(quota.intruders(0).load(ordering: .relaxed) == 0)
        #expect(quota.busy(0).load(ordering: .relaxed) == 0)
        #expect(quota.admit(core: 0) == .admitted(.exclusive))
        quota.release(core: 0)
        #expect(quota.inspect().totalInUse == 0)
    }
}
