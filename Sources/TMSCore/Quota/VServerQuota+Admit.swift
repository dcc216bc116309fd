import Atomics

extension VServerQuota {
    /// Admits one use on `core` if quota allows (SPEC.md §1.1):
    /// if in-use + 1 <= exclusive + held, admit; otherwise borrow one batch from the shared
    /// pool and admit; if the pool cannot lend a batch, or requests are already waiting for
    /// one, answer `.wouldQueue` (queue policy `.wait`) or `.refused`.
    ///
    /// Lock-free. Within the core's quota this is one atomic fetch-add on the core's own
    /// word; a borrow adds one compare-exchange loop on the shared pool.
    /// - Precondition: `0 <= core < cores` (traps otherwise).
    public func admit(core: Int) -> Admission {
        checkCore(core)
        switch attemptAdmit(core: core, yieldToWaiters: true, remote: false) {
        case .admitted(let source):
            bump(.admitted, core: core)
            return .admitted(source)
        case .noQuota(let reason):
            if case .wait = queuePolicy { return .wouldQueue(reason) }
            bump(.refused, core: core)
            return .refused(reason)
        }
    }

    enum Attempt {
        case admitted(AdmissionSource)
        case noQuota(RefusalReason)
    }

    /// The admission algorithm (counting only borrowed batches). `yieldToWaiters`: do not
    /// borrow while requests wait in the queue (they are served first, in order). `remote`:
    /// called for a core by another thread (serving a waiter), for the counters.
    @inline(__always)
    func attemptAdmit(core: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        let word = self.word(core)
        // The fast path: count the use first (one fetch-add), keep it if the core had room.
        // A compare-exchange would need a load before it, which costs more than the add.
        let before = CoreWord(raw: word.loadThenWrappingIncrement(by: CoreWord.inUseUnit,
                                                                  ordering: .sequentiallyConsistent))
        if !before.debt && before.inUse < before.capacity {
            let exclusive = mailbox(core: core, generation: before.generation, .exclusive)
            return .admitted(before.inUse < exclusive ? .exclusive : .heldBatch)
        }
        let current = word.wrappingDecrementThenLoad(by: CoreWord.inUseUnit, ordering: .sequentiallyConsistent)
        return attemptAdmitSlowly(core: core, current: current, yieldToWaiters: yieldToWaiters, remote: remote)
    }

    /// The rest of the admission algorithm, one compare-exchange at a time.
    private func attemptAdmitSlowly(core: Int, current: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        let word = self.word(core)
        var current = current
        while true {
            let state = CoreWord(raw: current)
            if !state.debt && state.inUse < state.capacity {
                // Room appeared meanwhile (a release, a publish).
                let next = state.with(inUse: state.inUse &+ 1, capacity: state.capacity).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: next, ordering: .sequentiallyConsistent)
                if exchanged {
                    let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
                    return .admitted(state.inUse < exclusive ? .exclusive : .heldBatch)
                }
                current = original
                continue
            }
            if state.debt {
                // Rare path: the vServer was over its limit after a decrease. Load order
                // matters: word, then the publishing flag, then the pool (see `publish`).
                if flag(FlagSlot.publishing).load(ordering: .sequentiallyConsistent) != 0 {
                    return .noQuota(.limitChanging)
                }
                if sharedAvailable < 0 { return .noQuota(.overLimit) }
                let cleared = state.with(debt: false).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: cleared, ordering: .sequentiallyConsistent)
                current = exchanged ? cleared : original
                continue
            }
            // The core's quota is used up: borrow a batch.
            if yieldToWaiters && flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) > 0 {
                return .noQuota(.sharedPoolExhausted)
            }
            guard mailboxMatches(core: core, generation: state.generation) else {
                current = word.load(ordering: .sequentiallyConsistent)
                continue
            }
            let batch = mailbox(core: core, generation: state.generation, .batch)
            guard SharedPool.tryBorrow(batch, from: sharedCounter) else {
                return .noQuota(sharedAvailable < 0 ? .overLimit : .sharedPoolExhausted)
            }
            bump(.borrowedBatches, core: core, remote: remote)
            // The batch has left the pool: credit it to the core whatever happened to the
            // word meanwhile (a publish may have re-classified it), admitting in the same
            // exchange when the core may admit.
            current = word.load(ordering: .sequentiallyConsistent)
            while true {
                let now = CoreWord(raw: current)
                let admitNow = !now.debt && now.inUse < now.capacity &+ batch
                let next = now.with(inUse: now.inUse &+ (admitNow ? 1 : 0), capacity: now.capacity &+ batch).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: next, ordering: .sequentiallyConsistent)
                if exchanged {
                    if admitNow { return .admitted(.newBatch) }
                    current = next
                    break
                }
                current = original
            }
        }
    }
}
