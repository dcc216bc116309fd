import Atomics

extension VServerQuota {
    /// Admits one use on `core` if quota allows (SPEC.md §1.1):
    /// if in-use + 1 <= exclusive + held, admit; otherwise borrow one batch from the shared
    /// pool and admit; if the pool cannot lend a batch, or requests are already waiting for
    /// one, answer `.wouldQueue` (queue policy `.wait`) or `.refused`.
    ///
    /// Lock-free. Within the core's quota this is a plain load and store of the owner's
    /// counter and a load of the core's word (no atomic read-modify-write); a borrow adds one
    /// compare-exchange loop on the shared pool.
    /// - Precondition: `0 <= core < cores` (traps otherwise); called by the core's owner
    ///   (one thread at a time per core).
    @inlinable @inline(__always)
    public func admit(core: Int) -> Admission {
        checkCore(core)
        if let source = admitOnOwnCounter(core: core) {
            bump(.admitted, core: core)
            return .admitted(source)
        }
        return admitByExchange(core: core)
    }

    /// `admit` when the fast path could not admit.
    @usableFromInline
    func admitByExchange(core: Int) -> Admission {
        switch attemptAdmitSlowly(core: core, yieldToWaiters: true, remote: false) {
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

    /// The fast path of the core's owner: count the use first (a plain store to its own
    /// counter), then read the word, and keep the use if the core has room. A thread that
    /// freezes the word and then reads the counter (after `fence.heavy()`) either sees this
    /// use or is seen here; then the use is taken back (nil) and the caller admits by
    /// compare-exchange instead.
    @inlinable @inline(__always)
    func admitOnOwnCounter(core: Int) -> AdmissionSource? {
        let counter = self.counter(core)
        let mine = counter.load(ordering: .relaxed)
        counter.store(mine &+ 1, ordering: .relaxed)
        fence.light()
        let state = CoreWord(raw: word(core).load(ordering: .acquiring))
        let inUse = state.inUse &+ mine
        if state.bits & (CoreWord.debtBit | CoreWord.frozenBit) == 0 && inUse < state.capacity {
            let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
            return inUse < exclusive ? .exclusive : .heldBatch
        }
        counter.store(mine, ordering: .relaxed)
        return nil
    }

    /// The admission algorithm (counting only borrowed batches). `yieldToWaiters`: do not
    /// borrow while requests wait in the queue (they are served first, in order). `remote`:
    /// called for a core by another thread (serving a waiter), which freezes the core's word
    /// while it reads the owner's counter.
    func attemptAdmit(core: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        if !remote {
            if let source = admitOnOwnCounter(core: core) { return .admitted(source) }
            return attemptAdmitSlowly(core: core, yieldToWaiters: yieldToWaiters, remote: false)
        }
        freeze(core)
        fence.heavy()
        defer { unfreeze(core) }
        return attemptAdmitSlowly(core: core, yieldToWaiters: yieldToWaiters, remote: true)
    }

    /// The rest of the admission algorithm, one compare-exchange at a time, counting the use
    /// in the word. The owner waits while another thread has the word frozen; a remote caller
    /// holds it frozen itself, so the owner's counter holds still (or only falls) meanwhile.
    func attemptAdmitSlowly(core: Int, yieldToWaiters: Bool, remote: Bool) -> Attempt {
        let word = self.word(core)
        var current = remote ? word.load(ordering: .sequentiallyConsistent) : waitUnfrozen(core)
        while true {
            let state = CoreWord(raw: current)
            if !remote && state.frozen {
                current = waitUnfrozen(core)
                continue
            }
            let inUse = self.inUse(state, core: core)
            if !state.debt && inUse < state.capacity {
                // Room appeared meanwhile (a release, a publish).
                let next = state.with(inUse: state.inUse &+ 1, capacity: state.capacity).raw
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
                // The credit goes in even while another thread has the word frozen: it only
                // adds capacity, and the freezer's own compare-exchange then fails and re-reads.
                let now = CoreWord(raw: current)
                let admitNow = !now.debt && !(now.frozen && !remote) && self.inUse(now, core: core) < now.capacity &+ batch
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
