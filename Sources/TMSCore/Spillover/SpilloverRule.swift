/// The spillover rule of SPEC.md §1.1 as a pure function.
public enum SpilloverRule {
    /// A new request on a core goes to the backup when the core's in-use count is at least T1
    /// AND the shared pool's availability is at most T2. With the defaults (T1 = the
    /// exclusive number, T2 = 0) that is: the core has used its exclusive share and the
    /// shared pool is empty.
    public static func shouldSpill(inUse: Int, sharedAvailable: Int, t1: Int, t2: Int) -> Bool {
        inUse >= t1 && sharedAvailable <= t2
    }
}

/// The answer to the spillover rule for one new request on one core.
public enum SpilloverDecision: Sendable, Hashable {
    case primary
    case backup
}
