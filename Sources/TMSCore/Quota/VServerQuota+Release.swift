import Atomics

extension VServerQuota {
    /// Ends one use on `core` (SPEC.md §1.1): when the core then holds borrowed quota it no
    /// longer needs (exclusive + held - in-use >= batch), it returns one batch to the shared
    /// pool; holding less than a batch, it returns what it holds once that much is spare. If requests wait, the queue is then served in
    /// order; with `now`, waiters whose time ran out are expired first.
    ///
    /// Lock-free unless requests are waiting. Within the core's quota, a plain load and store
    /// of the owner's counter and a load of the word (see `attemptAdmit`).
    /// - Precondition: `0 <= core < cores` and the core has a use to release (traps
    ///   otherwise); called by the core's owner (one thread at a time per core).
    @inlinable @inline(__always) @discardableResult
    public func release(core: Int, now: Duration? = nil) -> Release {
        checkCore(core)
        let counter = self.counter(core)
        let mine = counter.load(ordering: .relaxed)
        guard mine > 0 else { return releaseByExchange(core: core, now: now) }
        // The fast path: take the use off the owner's counter (whichever way it was admitted:
        // the core's in-use is the sum), then read the word.
        counter.store(mine &- 1, ordering: .relaxed)
        fence.light()
        let state = CoreWord(raw: word(core).load(ordering: .acquiring))
        if !state.frozen
            && Self.spare(capacity: state.capacity, inUse: state.inUse &+ mine &- 1,
                          exclusive: mailbox(core: core, generation: state.generation, .exclusive),
                          batch: mailbox(core: core, generation: state.generation, .batch)) == 0
            // Sequentially consistent with the enqueuer's announcement: either it sees the
            // quota just freed, or this load sees it waiting (no lost wake-up).
            && flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) == 0 {
            bump(.released, core: core)
            return Release(returnedToShared: 0)
        }
        return finishRelease(core: core, state: state, now: now)
    }

    /// `release` when every use of the core is counted in the word (admitted by
    /// compare-exchange).
    @usableFromInline
    func releaseByExchange(core: Int, now: Duration?) -> Release {
        let before = CoreWord(raw: word(core).loadThenWrappingDecrement(by: CoreWord.inUseUnit,
                                                                        ordering: .sequentiallyConsistent))
        precondition(before.inUse > 0, "release on core \(core) without an admitted use")
        return finishRelease(core: core, state: before.with(inUse: before.inUse &- 1, capacity: before.capacity), now: now)
    }

    /// The rest of `release`, the use taken off (the word as it was then: `state`): returns
    /// quota the core no longer needs, serves waiters.
    @usableFromInline
    func finishRelease(core: Int, state: CoreWord, now: Duration?) -> Release {
        var state = state
        if state.frozen {
            // A publish (or a waiter served here) is reading the counter: it may have seen the
            // use just ended, so decide on the word it leaves.
            state = CoreWord(raw: waitUnfrozen(core))
        }
        var returned = 0
        let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
        let batch = mailbox(core: core, generation: state.generation, .batch)
        if Self.spare(capacity: state.capacity, inUse: inUse(state, core: core), exclusive: exclusive, batch: batch) > 0 {
            returned = returnSpareQuota(core: core)
        }
        bump(.released, core: core)
        if flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) > 0 {
            return Release(returnedToShared: returned, waiters: serveWaiters(now: now))
        }
        return Release(returnedToShared: returned)
    }

    /// SPEC: return a batch when exclusive + held - in-use >= batch. A core can hold less than
    /// a batch after a decrease re-classified its uses; it returns that remainder once it is
    /// spare too, so an idle core never keeps borrowed quota. Returns the amount to give back.
    @inlinable @inline(__always)
    static func spare(capacity: Int, inUse: Int, exclusive: Int, batch: Int) -> Int {
        let held = capacity &- exclusive
        let unit = min(held, batch)
        return held > 0 && capacity &- inUse >= unit ? unit : 0
    }

    /// Gives back the quota `core` no longer needs, deciding on the word as it is now (a
    /// publish may have re-classified it since the release). Returns the amount given back.
    private func returnSpareQuota(core: Int) -> Int {
        let word = self.word(core)
        var current = waitUnfrozen(core)
        while true {
            let state = CoreWord(raw: current)
            if state.frozen {
                current = waitUnfrozen(core)
                continue
            }
            // The mailbox of the word's generation: if it was overwritten meanwhile (by the
            // publish after next), the word changed too and the exchange below fails.
            let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
            let batch = mailbox(core: core, generation: state.generation, .batch)
            let amount = Self.spare(capacity: state.capacity, inUse: inUse(state, core: core), exclusive: exclusive, batch: batch)
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
