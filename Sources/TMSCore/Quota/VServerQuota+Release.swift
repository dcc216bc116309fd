import Atomics

extension VServerQuota {
    /// Ends one use on `core` (SPEC.md §1.1): when the core then holds borrowed quota it no
    /// longer needs (exclusive + held - in-use >= batch), it returns one batch to the shared
    /// pool; holding less than a batch, it returns what it holds once that much is spare. If requests wait, the queue is then served in
    /// order; with `now`, waiters whose time ran out are expired first.
    ///
    /// Lock-free unless requests are waiting.
    /// - Precondition: `0 <= core < cores` and the core has a use to release (traps otherwise).
    @discardableResult
    public func release(core: Int, now: Duration? = nil) -> Release {
        checkCore(core)
        let word = self.word(core)
        // The fast path: one fetch-add. Returning quota, rarer, is a compare-exchange after it.
        let before = CoreWord(raw: word.loadThenWrappingDecrement(by: CoreWord.inUseUnit,
                                                                  ordering: .sequentiallyConsistent))
        precondition(before.inUse > 0, "release on core \(core) without an admitted use")
        var returned = 0
        let exclusive = mailbox(core: core, generation: before.generation, .exclusive)
        let batch = mailbox(core: core, generation: before.generation, .batch)
        if Self.spare(capacity: before.capacity, inUse: before.inUse &- 1, exclusive: exclusive, batch: batch) > 0 {
            returned = returnSpareQuota(core: core)
        }
        bump(.released, core: core)
        // Sequentially consistent with the enqueuer's announcement: either it sees the quota
        // just freed, or this load sees it waiting (no lost wake-up).
        if flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) > 0 {
            return Release(returnedToShared: returned, waiters: serveWaiters(now: now))
        }
        return Release(returnedToShared: returned)
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
            let amount = Self.spare(capacity: state.capacity, inUse: state.inUse, exclusive: exclusive, batch: batch)
            guard amount > 0 else { return 0 }
            let next = state.with(inUse: state.inUse, capacity: state.capacity &- amount).raw
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
