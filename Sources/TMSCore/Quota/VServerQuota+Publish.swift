import Atomics

/// The result of publishing a new configuration.
public struct LimitUpdate: Sendable, Hashable {
    /// The numbers now in force.
    public let sizing: PoolSizing
    /// Their generation.
    public let generation: Int
    /// Whether the vServer now holds more than its new limit (admissions pause until
    /// enough uses end).
    public let overLimit: Bool
    /// Waiting requests served because quota became available.
    public let waiters: WaiterUpdate
}

extension VServerQuota {
    /// Publishes a new limit, keeping the percentages and thresholds (e.g. from
    /// `ServiceCapacities.limit` after a health monitor flipped a service).
    @discardableResult
    public func updateLimit(_ limit: Int) throws(PoolConfigError) -> LimitUpdate {
        try publish { config in
            var config = config
            config.limit = limit
            return config
        }
    }

    /// Publishes the dynamic limit of `services`: the sum of the capacities of those UP.
    @discardableResult
    public func apply(_ services: ServiceCapacities) throws(PoolConfigError) -> LimitUpdate {
        try updateLimit(services.limit)
    }

    /// Publishes a whole new configuration (same core count).
    @discardableResult
    public func reconfigure(_ config: PoolConfig) throws(PoolConfigError) -> LimitUpdate {
        try publish { _ in config }
    }

    /// Recomputes the pools and publishes them to every core without stopping them
    /// (SPEC.md §1.1, dynamic limit).
    ///
    /// Publishing is serialized by the control lock; cores keep admitting and releasing
    /// meanwhile (by compare-exchange while their words are frozen, a few microseconds).
    /// Each core's word is re-classified by one compare-exchange, so a core idle for hours is
    /// as exact as a busy one:
    /// 1. the new numbers go into each core's spare mailbox;
    /// 2. a smaller shared pool is re-based first, so that the pool never looks larger
    ///    mid-publish than it will be (a larger one is re-based last);
    /// 3. each core: held := max(0, in-use - new exclusive) (`Reclassification`); quota it
    ///    no longer needs goes back to the pool, quota it now needs is taken from it;
    /// 4. if the pool ended negative the vServer is over its new limit: every core stays
    ///    flagged (no admissions) until releases bring the pool back to zero or more.
    ///
    /// When the publish can decrease an exclusive number or the shared pool, cores are
    /// flagged from their re-classification to the end of the publish (a few
    /// compare-exchanges per core) and answer `.limitChanging` in that window.
    func publish(_ change: (PoolConfig) -> PoolConfig) throws(PoolConfigError) -> LimitUpdate {
        let outcome: Result<(PoolSizing, Int, Bool), PoolConfigError> = control.withLock { state in
            let config = change(state.config)
            guard config.cores == cores else {
                return .failure(.coreCountMismatch(expected: cores, got: config.cores))
            }
            let sizing: PoolSizing
            do throws(PoolConfigError) { sizing = try Self.sizing(for: config) } catch { return .failure(error) }
            let over = publishLocked(&state, config: config, sizing: sizing)
            return .success((sizing, state.generation, over))
        }
        let (sizing, generation, over) = try outcome.get()
        return LimitUpdate(sizing: sizing, generation: generation, overLimit: over,
                           waiters: serveWaiters(now: nil))
    }

    /// Steps 1-4 of `publish`. Called with the control lock held.
    private func publishLocked(_ state: inout ControlState, config: PoolConfig, sizing new: PoolSizing) -> Bool {
        let old = state.sizing
        let generation = state.generation &+ 1
        let mayOwe = new.perCoreExclusive < old.perCoreExclusive || new.sharedPool < old.sharedPool
        let publishing = flag(FlagSlot.publishing)
        if mayOwe { publishing.store(1, ordering: .sequentiallyConsistent) }

        for core in 0..<cores { writeMailbox(core: core, generation: generation, sizing: new) }

        var deferredCredit = 0
        let sharedDelta = new.sharedPool - old.sharedPool
        if sharedDelta < 0 { SharedPool.adjust(sharedCounter, by: sharedDelta) } else { deferredCredit += sharedDelta }

        // Every core's owner counts uses in a counter of its own with plain stores: freeze the
        // words (owners then take the compare-exchange path) and make every thread's stores
        // visible, so the counters hold still (or only fall) while the cores are re-classified.
        for core in 0..<cores { freeze(core) }
        fence.heavy()
        for core in 0..<cores {
            let word = self.word(core)
            var current = word.load(ordering: .sequentiallyConsistent)
            while true {
                let state = CoreWord(raw: current)
                let heldBefore = state.capacity - old.perCoreExclusive
                // The new word is not frozen: the owner's fast path resumes with it.
                let change = Reclassification(inUse: inUse(state, core: core), held: heldBefore,
                                              newExclusive: new.perCoreExclusive)
                let next = CoreWord(debt: state.debt || mayOwe, generation: generation,
                                    inUse: state.inUse, capacity: new.perCoreExclusive + change.held).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: next, ordering: .sequentiallyConsistent)
                if exchanged {
                    if change.returnedToShared < 0 {
                        SharedPool.adjust(sharedCounter, by: change.returnedToShared)
                    } else {
                        deferredCredit += change.returnedToShared
                    }
                    break
                }
                current = original
            }
        }
        SharedPool.adjust(sharedCounter, by: deferredCredit)
        state = ControlState(config: config, sizing: new, generation: generation)

        let over = sharedAvailable < 0
        if !over { clearDebtFlags() }
        if mayOwe { publishing.store(0, ordering: .sequentiallyConsistent) }
        return over
    }

    /// Clears every core's debt flag. Only valid while the shared pool is >= 0, which then
    /// stays so until the next publish (only a publish can take it below zero).
    private func clearDebtFlags() {
        for core in 0..<cores {
            let word = self.word(core)
            var current = word.load(ordering: .sequentiallyConsistent)
            while CoreWord(raw: current).debt {
                let cleared = CoreWord(raw: current).with(debt: false).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: cleared, ordering: .sequentiallyConsistent)
                current = exchanged ? cleared : original
            }
        }
    }
}
