import Atomics

extension VServerQuota {
    /// The spillover rule for one new request on `core` (SPEC.md §1.1): `.backup` when the
    /// core's in-use >= T1 and the shared pool's availability <= T2 — except while the core
    /// holds borrowed quota it does not use: that counts as its own, and a request the core
    /// can admit without borrowing is never spilled (`SpilloverRule.shouldSpill(inUse:unusedHeld:sharedAvailable:t1:t2:)`).
    /// With the default thresholds a core spills only when it could not admit the request,
    /// and every core spills exactly when L uses are in place.
    ///
    /// A `.backup` answer is counted as a spilled request on the core.
    ///
    /// Lock-free: a few loads and, on spillover, one counter increment. Because the answer is
    /// recomputed for every request, new requests go to the primary again as soon as usage
    /// is back under the thresholds.
    public func spilloverDecision(core: Int) -> SpilloverDecision {
        checkCore(core)
        while true {
            let state = CoreWord(raw: word(core).load(ordering: .sequentiallyConsistent))
            let t1 = mailbox(core: core, generation: state.generation, .t1)
            let t2 = mailbox(core: core, generation: state.generation, .t2)
            let exclusive = mailbox(core: core, generation: state.generation, .exclusive)
            guard mailboxMatches(core: core, generation: state.generation) else { continue }
            let available = sharedAvailable
            // A flagged core admits nothing while the vServer is over its limit or a decrease is
            // being published (see `attemptAdmit`): then what it holds cannot be used.
            let mayAdmit = !state.debt
                || (available >= 0 && flag(FlagSlot.publishing).load(ordering: .sequentiallyConsistent) == 0)
            let inUse = self.inUse(state, core: core)
            let unusedHeld = mayAdmit ? Self.unusedHeld(inUse: inUse, capacity: state.capacity, exclusive: exclusive) : 0
            if SpilloverRule.shouldSpill(inUse: inUse, unusedHeld: unusedHeld, sharedAvailable: available, t1: t1, t2: t2) {
                bump(.spilled, core: core)
                return .backup
            }
            return .primary
        }
    }

    /// Borrowed quota a core holds and does not use: held - borrowed in use, where
    /// held = capacity - exclusive and borrowed in use = max(0, in-use - exclusive).
    @inline(__always)
    static func unusedHeld(inUse: Int, capacity: Int, exclusive: Int) -> Int {
        max(0, capacity &- max(inUse, exclusive))
    }
}
