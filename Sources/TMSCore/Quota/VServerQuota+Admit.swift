import Atomics

extension VServerQuota {
    /// Admits one use on `core` if quota allows (SPEC.md §1.1):
    /// if in-use + 1 <= exclusive + held, admit; otherwise borrow one batch from the shared
    /// pool and admit; if the pool cannot lend a batch, or requests are already waiting for
    /// one, answer `.wouldQueue` (queue policy `.wait`) or `.refused`.
    ///
    /// Lock-free. Within the core's quota this is plain loads and stores on the core's own
    /// cache lines (one compare-exchange where the system has no process-wide barrier, see
    /// `VServerQuota`); a borrow adds one compare-exchange loop on the shared pool.
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
    /// called while serving a waiter (`intruding` on the core, perhaps from another thread):
    /// atomic operations only; also for the counters.
    @inline(__always)
    func attemptAdmit(core: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        if !remote && plainFastPath, let source = admitPlainly(core: core) { return .admitted(source) }
        // The atomic path: a compare-exchange, never an optimistic fetch-add. An add undone
        // when the core had no room is, until undone, a use that does not exist; a publish
        // re-classifying the core in between took it for a real one, charged the shared pool
        // for it (below zero, without pausing any core) and the core then admitted into
        // that charge: one use over the limit.
        let current = word(core).load(ordering: .sequentiallyConsistent)
        return attemptAdmitSlowly(core: core, current: current, yieldToWaiters: yieldToWaiters, remote: remote)
    }

    /// The core's own thread, within the core's quota and with nobody `intruding`: the use is
    /// counted in the core's own count with a plain store. Returns nil (nothing changed) when
    /// the core has no room, is flagged, or another thread is working on its word.
    @inline(__always)
    private func admitPlainly(core: Int) -> AdmissionSource? {
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
        let inUse = state.inUse(own: count)
        guard !state.debt && inUse < state.capacity else {
            busy.store(0, ordering: .releasing)
            return nil
        }
        own.store(CoreWord.modular(count &+ 1), ordering: .relaxed)
        busy.store(0, ordering: .releasing)
        let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
        return inUse < exclusive ? .exclusive : .heldBatch
    }

    /// The rest of the admission algorithm, one compare-exchange at a time.
    private func attemptAdmitSlowly(core: Int, current: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        let word = self.word(core)
        var current = current
        while true {
            let state = CoreWord(raw: current)
            let inUse = self.inUse(state, core: core)
            if !state.debt && inUse < state.capacity {
                // Room appeared meanwhile (a release, a publish).
                let next = state.with(tallyDelta: 1, capacity: state.capacity).raw
                let (exchanged, original) = word.compareExchange(
                    expected: current, desired: next, ordering: .sequentiallyConsistent)
                if exchanged {
                    let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
                    return .admitted(inUse < exclusive ? .exclusive : .heldBatch)
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
                let admitNow = !now.debt && self.inUse(now, core: core) < now.capacity &+ batch
                let next = now.with(tallyDelta: admitNow ? 1 : 0, capacity: now.capacity &+ batch).raw
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
