import Atomics
import Testing
@testable import TMSCore

/// Real threads, one per core, hammering one `VServerQuota`. Run under ThreadSanitizer with
/// `swift test --sanitize=thread --filter QuotaStressTests` (operation counts are scaled
/// down automatically under TSan).
@Suite(.serialized) struct QuotaStressTests {
    static let scale = runningUnderThreadSanitizer ? 4 : 1

    /// One core's thread in the limit tests: admits and releases at random (at most 24 uses
    /// open), counts the uses it holds in `live` (shared by all the threads) and every time
    /// `live` went past `limit` in `excess`, and releases what it holds at the end. Returns the
    /// uses it was admitted.
    static func churn(_ quota: VServerQuota, core: Int, seed: UInt64, operations: Int, limit: Int,
                      live: ManagedAtomic<Int>, excess: ManagedAtomic<Int>) -> Int {
        var random = SplitMix(seed: seed)
        var open = 0, admitted = 0
        for _ in 0..<operations {
            if open > 0 && (open >= 24 || random.next() % 2 == 0) {
                live.wrappingDecrement(ordering: .sequentiallyConsistent)
                quota.release(core: core)
                open -= 1
            } else if quota.admit(core: core).isAdmitted {
                open += 1
                admitted += 1
                if live.wrappingIncrementThenLoad(ordering: .sequentiallyConsistent) > limit {
                    excess.wrappingIncrement(ordering: .relaxed)
                }
            }
        }
        for _ in 0..<open {
            live.wrappingDecrement(ordering: .sequentiallyConsistent)
            quota.release(core: core)
        }
        return admitted
    }

    /// With a constant limit, the number of uses admitted and not yet released — counted
    /// outside the quota, by the threads themselves — never exceeds the limit, at any instant.
    @Test func concurrentAdmissionsNeverExceedTheLimit() throws {
        let cores = 4
        let limit = 64   // e = 12, S = 16, b = 1: the shared pool is contended constantly
        let quota = try VServerQuota(PoolConfig(limit: limit, cores: cores))
        let live = ManagedAtomic<Int>(0)
        let excess = ManagedAtomic<Int>(0)
        let admissions = ManagedAtomic<Int>(0)
        let operations = 400_000 / Self.scale

        runThreads(cores) { core in
            let admitted = Self.churn(quota, core: core, seed: UInt64(core) &+ 17, operations: operations,
                                      limit: limit, live: live, excess: excess)
            admissions.wrappingIncrement(by: admitted, ordering: .relaxed)
        }

        #expect(excess.load(ordering: .relaxed) == 0)
        let state = quota.inspect()
        #expect(state.totalInUse == 0 && state.totalHeld == 0)
        #expect(state.sharedAvailable == state.sizing.sharedPool)
        #expect(quota.totalCounters.borrowedBatches > 1_000 / Self.scale, "the shared pool was not exercised")
        #expect(admissions.load(ordering: .relaxed) == quota.totalCounters.admitted)
    }

    /// The owners' fast path is a plain store to a counter of their own; a publish freezes the
    /// words and reads those counters (membarrier). Here the limit stays 64 while a control
    /// thread re-publishes it with other exclusive shares (every publish re-classifies every
    /// core), thousands of times under the owners' feet: the uses admitted and not released,
    /// counted outside the quota, never exceed 64 at any instant, and at the end the pools
    /// are whole.
    @Test func reclassifyingUnderTheFastPathNeverExceedsTheLimit() throws {
        let cores = 4
        let limit = 64
        let quota = try VServerQuota(PoolConfig(limit: limit, cores: cores))
        let live = ManagedAtomic<Int>(0)
        let excess = ManagedAtomic<Int>(0)
        let done = ManagedAtomic<Int>(0)
        let publishes = ManagedAtomic<Int>(0)
        let operations = 300_000 / Self.scale
        let shares = [0, 50, 80, 100, 30].map { Percentage($0)! }

        runThreads(cores + 1) { thread in
            if thread == cores {
                var index = 0
                while done.load(ordering: .relaxed) < cores {
                    index += 1
                    _ = try? quota.reconfigure(PoolConfig(limit: limit, cores: cores,
                                                          exclusivePercent: shares[index % shares.count]))
                    publishes.wrappingIncrement(ordering: .relaxed)
                }
                return
            }
            _ = Self.churn(quota, core: thread, seed: UInt64(thread) &+ 99, operations: operations,
                           limit: limit, live: live, excess: excess)
            done.wrappingIncrement(ordering: .relaxed)
        }

        #expect(excess.load(ordering: .relaxed) == 0, "more than \(limit) uses at once")
        #expect(publishes.load(ordering: .relaxed) > 100 / Self.scale, "the control thread hardly published")
        let state = quota.inspect()
        #expect(state.totalInUse == 0 && state.totalHeld == 0, "\(state)")
        #expect(state.sharedAvailable == state.sizing.sharedPool)
        #expect(state.coresConsistent)
    }

    /// Core threads admit (some waiting in the queue) and release while a control thread
    /// flips services up and down, publishing new limits under their feet. At every quiescent
    /// point (all threads joined) and at the end: the ledger balances, every core's in-use is
    /// what its thread holds, the limit holds or the vServer is paused over it, and nothing
    /// was lost: after everything ends the shared pool is whole.
    @Test func invariantsHoldAcrossConcurrentLimitChanges() throws {
        let cores = 4
        var services = try ServiceCapacities([
            .init(name: "a", capacity: 40), .init(name: "b", capacity: 25), .init(name: "c", capacity: 15),
            .init(name: "d", capacity: 8),
        ])
        let quota = try VServerQuota(PoolConfig(limit: services.limit, cores: cores),
                                     queue: .wait(capacity: 6, timeout: .milliseconds(50)))
        // Per core: uses admitted there and not released (incremented by whoever learns of an
        // admission — the core's thread, or a thread whose release served a waiter there;
        // decremented only by the core's thread); and requests of that core waiting.
        let open = (0..<cores).map { _ in ManagedAtomic<Int>(0) }
        let waiting = (0..<cores).map { _ in ManagedAtomic<Int>(0) }
        let clock = ManagedAtomic<Int>(0)   // simulated milliseconds
        let rounds = 20
        let operations = 50_000 / Self.scale
        var totalOperations = 0
        let overLimitPublishes = ManagedAtomic<Int>(0)

        @Sendable func account(_ update: WaiterUpdate) {
            for served in update.served {
                open[served.waiter.core].wrappingIncrement(ordering: .relaxed)
                waiting[served.waiter.core].wrappingDecrement(ordering: .relaxed)
            }
            for expired in update.expired { waiting[expired.core].wrappingDecrement(ordering: .relaxed) }
        }

        for round in 0..<rounds {
            let flips = (0..<200).map { (($0 &* 7 &+ round) % 4, ($0 &+ round) % 3 != 0) }
            let startServices = services
            runThreads(cores + 1) { thread in
                if thread == cores {
                    // The control plane: health monitors flipping services.
                    var current = startServices
                    for (index, up) in flips {
                        try! current.setUp(current.services[index].name, up)
                        let update = try! quota.apply(current)
                        if update.overLimit { overLimitPublishes.wrappingIncrement(ordering: .relaxed) }
                        account(update.waiters)
                    }
                    return
                }
                let core = thread
                var random = SplitMix(seed: UInt64(round * 100 + core))
                var ticket = UInt64(core) << 48 | UInt64(round) << 32
                for _ in 0..<operations {
                    let now = Duration.milliseconds(clock.wrappingIncrementThenLoad(ordering: .relaxed) / 16)
                    let roll = random.next() % 16
                    if roll < 7, open[core].load(ordering: .relaxed) > 0 {
                        open[core].wrappingDecrement(ordering: .relaxed)
                        account(quota.release(core: core, now: now).waiters)
                    } else if roll < 12 {
                        if quota.admit(core: core).isAdmitted { open[core].wrappingIncrement(ordering: .relaxed) }
                    } else if roll < 15 {
                        ticket += 1
                        switch quota.admitOrWait(core: core, ticket: ticket, now: now) {
                        case .admitted: open[core].wrappingIncrement(ordering: .relaxed)
                        case .queued: waiting[core].wrappingIncrement(ordering: .relaxed)
                        case .refused: break
                        }
                    } else {
                        account(quota.serveWaiters(now: now))
                    }
                }
            }
            for (index, up) in flips { try services.setUp(services.services[index].name, up) }
            totalOperations += cores * operations + flips.count

            // Quiescent point. First: no request may wait while it could be served (that
            // would be a lost wake-up).
            let lost = quota.serveWaiters(now: nil)
            #expect(lost.served.isEmpty, "round \(round): waiters stayed queued while quota was free")
            account(lost)
            let state = quota.inspect()
            #expect(state.ledgerBalances, "round \(round): S_available + held != S")
            #expect(state.coresConsistent, "round \(round)")
            #expect(state.withinLimitOrPaused, "round \(round): over the limit without pausing")
            #expect(state.sizing.limit == services.limit)
            #expect(state.cores.map(\.inUse) == open.map { $0.load(ordering: .relaxed) }, "round \(round)")
            #expect(state.waiting == waiting.reduce(0) { $0 + $1.load(ordering: .relaxed) }, "round \(round)")
        }

        // The end: expire every waiter, release everything.
        account(quota.serveWaiters(now: .seconds(1_000_000)))
        for core in 0..<cores {
            while open[core].load(ordering: .relaxed) > 0 {
                open[core].wrappingDecrement(ordering: .relaxed)
                account(quota.release(core: core).waiters)
            }
        }
        let end = quota.inspect()
        #expect(end.waiting == 0 && end.totalInUse == 0 && end.totalHeld == 0)
        #expect(end.sharedAvailable == end.sizing.sharedPool)
        #expect(end.ledgerBalances)
        #expect(totalOperations >= 4_000_000 / Self.scale)
        let counters = quota.totalCounters
        #expect(counters.admitted == counters.released, "admissions and releases do not match")
        #expect(counters.served > 0 && counters.expired > 0 && counters.borrowedBatches > 0)
        // The post-decrease window (over the limit, paused) was entered under concurrency.
        #expect(overLimitPublishes.load(ordering: .relaxed) > 0)
    }

    /// Cores admit on their own while every thread also serves the queue, admitting waiters
    /// for other cores: the uses held — counted outside the quota by whoever learns of them —
    /// never exceed the limit, and everything adds up at the end.
    @Test func waitersAdmittedByOtherThreadsNeverPushPastTheLimit() throws {
        let cores = 3
        let limit = 12
        let quota = try VServerQuota(PoolConfig(limit: limit, cores: cores),
                                     queue: .wait(capacity: 8, timeout: .seconds(3600)))
        let live = ManagedAtomic<Int>(0)
        let excess = ManagedAtomic<Int>(0)
        let open = (0..<cores).map { _ in ManagedAtomic<Int>(0) }
        let operations = 200_000 / Self.scale

        @Sendable func admitted(on core: Int) {
            open[core].wrappingIncrement(ordering: .sequentiallyConsistent)
            if live.wrappingIncrementThenLoad(ordering: .sequentiallyConsistent) > limit {
                excess.wrappingIncrement(ordering: .relaxed)
            }
        }
        @Sendable func account(_ update: WaiterUpdate) {
            for served in update.served { admitted(on: served.waiter.core) }
        }

        runThreads(cores) { core in
            var random = SplitMix(seed: UInt64(core) &+ 99)
            var ticket = UInt64(core) << 48
            for _ in 0..<operations {
                let roll = random.next() % 8
                if roll < 4, open[core].load(ordering: .sequentiallyConsistent) > 0 {
                    open[core].wrappingDecrement(ordering: .sequentiallyConsistent)
                    live.wrappingDecrement(ordering: .sequentiallyConsistent)
                    account(quota.release(core: core).waiters)
                } else if roll < 7 {
                    ticket += 1
                    if case .admitted = quota.admitOrWait(core: core, ticket: ticket, now: .zero) { admitted(on: core) }
                } else {
                    account(quota.serveWaiters(now: nil))
                }
            }
        }
        // Every thread has stopped: expire the rest, release what is held, core by core.
        account(quota.serveWaiters(now: .seconds(1_000_000)))
        for core in 0..<cores {
            while open[core].load(ordering: .relaxed) > 0 {
                open[core].wrappingDecrement(ordering: .relaxed)
                live.wrappingDecrement(ordering: .relaxed)
                account(quota.release(core: core).waiters)
            }
        }
        #expect(excess.load(ordering: .relaxed) == 0, "more uses than the limit were held at once")
        let end = quota.inspect()
        #expect(end.waiting == 0 && end.totalInUse == 0 && end.totalHeld == 0, "\(end)")
        #expect(end.sharedAvailable == end.sizing.sharedPool && end.ledgerBalances)
        let counters = quota.totalCounters
        #expect(counters.admitted == counters.released && counters.served > 1_000 / Self.scale, "\(counters)")
    }
}
