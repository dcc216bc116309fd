import Atomics

extension VServerQuota {
    /// The spillover rule for one new request on `core` (SPEC.md §1.1): `.backup` when the
    /// core's in-use >= T1 and the shared pool's availability <= T2, otherwise `.primary`.
    /// A `.backup` answer is counted as a spilled request on the core.
    ///
    /// Lock-free: two loads and, on spillover, one counter increment. Because the answer is
    /// recomputed for every request, new requests go to the primary again as soon as usage
    /// is back under the thresholds.
    public func spilloverDecision(core: Int) -> SpilloverDecision {
        checkCore(core)
        while true {
            let state = CoreWord(raw: word(core).load(ordering: .sequentiallyConsistent))
            let t1 = mailbox(core: core, generation: state.generation, .t1)
            let t2 = mailbox(core: core, generation: state.generation, .t2)
            guard mailboxMatches(core: core, generation: state.generation) else { continue }
            if SpilloverRule.shouldSpill(inUse: state.inUse, sharedAvailable: sharedAvailable, t1: t1, t2: t2) {
                bump(.spilled, core: core)
                return .backup
            }
            return .primary
        }
    }
}
