import Atomics

/// One core's numbers, read from its atomic word.
public struct CoreState: Sendable, Hashable {
    public let inUse: Int
    /// exclusive + held: how many uses the core may have without borrowing.
    public let capacity: Int
    public let exclusive: Int
    /// Quota the core holds from the shared pool.
    public var held: Int { capacity - exclusive }
    /// Uses counted as borrowed (beyond the exclusive number).
    public var borrowedInUse: Int { max(0, inUse - exclusive) }
    /// Borrowed quota held and not in use (held - borrowed in use). SPEC.md §1.1 counts it
    /// as the core's own: while it is above 0 the core admits without borrowing and its
    /// requests are not spilled (unless the core is paused over the limit).
    public var unusedHeld: Int { VServerQuota.unusedHeld(inUse: inUse, capacity: capacity, exclusive: exclusive) }
    /// Whether the core is flagged as not admitting (over the limit, or mid-publish).
    public let paused: Bool
}

/// A snapshot of a vServer's quota. Exact when no operation is in flight (the invariant
/// checks below are meant for such quiescent points and for single-threaded tests).
public struct QuotaState: Sendable, Hashable {
    public let generation: Int
    public let sizing: PoolSizing
    public let sharedAvailable: Int
    public let cores: [CoreState]
    /// Requests waiting in the queue.
    public let waiting: Int

    public var totalInUse: Int { cores.reduce(0) { $0 + $1.inUse } }
    public var totalHeld: Int { cores.reduce(0) { $0 + $1.held } }
    /// The shared pool is overdrawn after a limit decrease.
    public var overLimit: Bool { sharedAvailable < 0 }

    /// `S_available + Σ held == S`.
    public var ledgerBalances: Bool { sharedAvailable + totalHeld == sizing.sharedPool }
    /// `Σ in-use <= L`, or the vServer is flagged over its limit (the only permitted way to
    /// exceed it, after a decrease).
    public var withinLimitOrPaused: Bool {
        totalInUse <= sizing.limit || (overLimit && cores.allSatisfy(\.paused))
    }
    /// Every core: in-use <= capacity, held >= 0, exclusive as published.
    public var coresConsistent: Bool {
        cores.allSatisfy { $0.inUse <= $0.capacity && $0.held >= 0 && $0.exclusive == sizing.perCoreExclusive }
    }
}

extension VServerQuota {
    /// Reads every core's word, the shared pool and the queue length. Takes the control lock
    /// so the configuration read matches the words (no publish in between).
    public func inspect() -> QuotaState {
        control.withLock { state in
            let cores = (0..<self.cores).map { core in
                let word = CoreWord(raw: self.word(core).load(ordering: .sequentiallyConsistent))
                return CoreState(inUse: inUse(word, core: core), capacity: word.capacity,
                                 exclusive: mailbox(core: core, generation: word.generation, .exclusive),
                                 paused: word.debt)
            }
            return QuotaState(generation: state.generation, sizing: state.sizing,
                              sharedAvailable: sharedAvailable, cores: cores,
                              waiting: flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent))
        }
    }

    /// The in-use count of `core` (for monitoring; lock-free).
    public func inUse(core: Int) -> Int {
        checkCore(core)
        return inUse(CoreWord(raw: word(core).load(ordering: .relaxed)), core: core)
    }

    /// The sum of in-use over all cores (lock-free; exact when nothing is in flight).
    public var totalInUse: Int { (0..<cores).reduce(0) { $0 + inUse(core: $1) } }

    /// The usage counters of `core`, readable from any thread.
    public func counters(core: Int) -> CoreCounters {
        checkCore(core)
        var counters = CoreCounters()
        for counter in CoreCounter.allCases {
            let row = Self.firstCoreRow + core
            counters[counter] = cells.atomic(row: row, slot: counter.rawValue).load(ordering: .relaxed)
                + cells.atomic(row: row, slot: counter.remoteSlot).load(ordering: .relaxed)
        }
        return counters
    }

    /// The counters of all cores added up.
    public var totalCounters: CoreCounters {
        (0..<cores).reduce(CoreCounters()) { $0 + counters(core: $1) }
    }
}
