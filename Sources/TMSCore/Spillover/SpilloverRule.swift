/// The spillover rule of SPEC.md §1.1 as a pure function.
public enum SpilloverRule {
    /// A new request on a core goes to the backup when the core's in-use count is at least T1
    /// AND the shared pool's availability is at most T2. With the defaults (T1 = the
    /// exclusive number, T2 = 0) that is: the core has used its exclusive share and the
    /// shared pool is empty.
    ///
    /// This is the rule without the core's held quota; a vServer's quota decides with
    /// `shouldSpill(inUse:unusedHeld:sharedAvailable:t1:t2:)`.
    public static func shouldSpill(inUse: Int, sharedAvailable: Int, t1: Int, t2: Int) -> Bool {
        inUse >= t1 && sharedAvailable <= t2
    }

    /// The rule with the quota the core already holds: borrowed quota it holds and does not
    /// use (`unusedHeld`) counts as its own, so while it has any, a request is never spilled
    /// — the core admits it without borrowing. Otherwise `shouldSpill(inUse:sharedAvailable:t1:t2:)`.
    ///
    /// With the default thresholds a core then spills only when every use it may admit
    /// without borrowing is in use and the shared pool is empty; every core spills exactly
    /// when the limit's L uses are in place.
    public static func shouldSpill(inUse: Int, unusedHeld: Int, sharedAvailable: Int, t1: Int, t2: Int) -> Bool {
        unusedHeld <= 0 && shouldSpill(inUse: inUse, sharedAvailable: sharedAvailable, t1: t1, t2: t2)
    }
}

/// The answer to the spillover rule for one new request on one core.
public enum SpilloverDecision: Sendable, Hashable {
    case primary
    case backup
}
