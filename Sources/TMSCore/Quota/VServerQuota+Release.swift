import Atomics

extension VServerQuota {
    /// Ends one use on `core` (SPEC.md §1.1): when the core then holds borrowed quota it no
    /// longer needs (exclusive + held - in-use >= batch), it returns one batch to the shared
    /// pool; holding less than a batch, it returns what it holds once that much is spare. If
    /// requests wait, the queue is then served in order; with `now`, waiters whose time ran
    /// out are expired first.
    ///
    /// Lock-free unless requests are waiting. Within the core's quota this is plain loads and
    /// stores on the core's own cache lines (see `VServerQuota` for the thread rule).
    /// - Precondition: `0 <= core < cores` and the core has a use to release (traps otherwise).
    @discardableResult
    public func release(core: Int, now: Duration? = nil) -> Release {
        checkCore(core)
        // Count the release, keeping the word as it was: it tells whether quota is now spare.
        // Returning quota, rarer, is a compare-exchange after it.
        let (state, inUse) = plainFastPath ? releasePlainly(core: core) ?? releaseAtomically(core: core)
            : releaseAtomically(core: core)
        // A release without a use shows as -1 modulo 2^27, above any real count.
        precondition(inUse > 0 && inUse <= Self.maximumLimit, "release on core \(core) without an admitted use")
        var returned = 0
        let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
        let batch = mailbox(core: core, generation: state.generation, .batch)
        if Self.spare(capacity: state.capacity, inUse: inUse &- 1, exclusive: exclusive, batch: batch) > 0 {
            returned = returnSpareQuota(core: core)
        }
        bump(.released, core: core)
        // No lost wake-up: quota freed for other cores went back to the shared pool with
        // locked instructions, sequentially consistent with an enqueuer's announcement
        // (either it sees the quota, or this load sees it waiting); a request waiting for
        // this core's own quota was queued by this thread (the thread-safety rule).
        if flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) > 0 {
            return Release(returnedToShared: returned, waiters: serveWaiters(now: now))
        }
        return Release(returnedToShared: returned)
    }

    /// The core's own thread with nobody `intruding`: one use less in the core's own count,
    /// a plain store. Returns the word and the uses in force before the release, or nil
    /// (nothing changed) when another thread is working on the core's word.
    @inline(__always)
    private func releasePlainly(core: Int) -> (CoreWord, Int)? {
        let busy = self.busy(core)
        busy.store(1, ordering: .relaxed)
        // Keeps the compiler from moving the loads below above the busy mark (`intruding`
        // relies on that order); on x86-64 it emits no instruction.
        atomicMemoryFence(ordering: .acquiringAndReleasing)
        guard intruders(core).load(ordering: .acquiring) == 0 else {
            busy.store(0, ordering: .releasing)
            return nil
        }
        let state = CoreWord(raw: word(core).load(ordering: .relaxed))
        let own = ownCount(core)
        let count = own.load(ordering: .relaxed)
        own.store(CoreWord.modular(count &- 1), ordering: .relaxed)
        busy.store(0, ordering: .releasing)
        return (state, state.inUse(own: count))
    }

    /// One use less in the core's word (one atomic fetch-add). Returns the word before and
    /// the uses in force before the release.
    private func releaseAtomically(core: Int) -> (CoreWord, Int) {
        let before = CoreWord(raw: word(core).loadThenWrappingDecrement(by: CoreWord.inUseUnit,
                                                                        ordering: .sequentiallyConsistent))
        return (before, inUse(before, core: core))
    }

    /// SPEC: return a batch when exclusive + held - in-use >= batch. A core can hold less than
    /// a batch after a decrease re-classified its uses; it returns that remainder once it is
    /// spare too, so an idle core never keeps borrowed quota. Returns the amount to give back.
    @inline(__always)
    static func spare(capacity: Int, inUse: Int, exclusive: Int, batch: Int) -> Int {
        let held = capacity &- exclusive
        let unit = min(held, batch)
        return held > 0 && capacity &- inUse >= unit ? unit : 0
    }

    /// Gives back the quota `core` no longer needs, deciding on the word as it is now (a
    /// publish may have re-classified it since the release). Returns the amount given back.
    private func returnSpareQuota(core: Int) -> Int {
        let word = self.word(core)
        var current = word.load(ordering: .sequentiallyConsistent)
        while true {
            let state = CoreWord(raw: current)
            // The mailbox of the word's generation: if it was overwritten meanwhile (by the
            // publish after next), the word changed too and the exchange below fails.
            let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
            let batch = mailbox(core: core, generation: state.generation, .batch)
            let amount = Self.spare(capacity: state.capacity, inUse: inUse(state, core: core),
                                    exclusive: exclusive, batch: batch)
            guard amount > 0 else { return 0 }
            let next = state.with(tallyDelta: 0, capacity: state.capacity &- amount).raw
            let (exchanged, original) = word.compareExchange(
                expected: current, desired: next, ordering: .sequentiallyConsistent)
            if exchanged {
                SharedPool.giveBack(amount, to: sharedCounter)
                bump(.returnedBatches, core: core)
                return amount
            }
            current = original
        }
    }
}
