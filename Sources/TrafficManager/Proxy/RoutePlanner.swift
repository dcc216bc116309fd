/// What the quota of one vServer answers for a new connection.
public enum QuotaAnswer: Sendable, Hashable {
    case admitted
    /// No quota now, and the vServer lets requests wait.
    case wouldQueue
    case refused
}

/// Where a new connection goes along its backup chain.
public enum RoutePlan: Sendable, Hashable {
    /// Admitted by the vServer at `index` of the chain (0 = the primary).
    case admitted(index: Int, position: Int)
    /// To wait in the queue of the vServer at `index`.
    case queue(index: Int, position: Int)
    /// Every vServer of the chain spilled or refused: the end-of-chain action applies.
    case endOfChain
}

/// The spillover walk (SPEC.md §1.1) combined with admission, as a pure function.
///
/// The chain is walked from `start` (0, or the backup a client is pinned to), wrapping round
/// to the vServers before it — the order of `TMSCore.SpilloverRouter`. A vServer takes the
/// connection when it does not spill (`spills` false) and its quota admits it; a vServer that
/// does not spill but refuses (its core's quota used up while the shared pool still holds less
/// than a batch) is passed over like one that spills. The last vServer of the walk has no
/// backup to spill to: the spillover rule is not asked, its quota decides (admit, queue or
/// refuse). `wouldQueue` stops the walk: the connection waits for that vServer.
///
/// `position` counts steps of the walk: after a queue timeout, resume with
/// `from: position + 1`.
public enum RoutePlanner {
    public static func plan(count: Int, start: Int = 0, from first: Int = 0,
                            spills: (Int) -> Bool, admit: (Int) -> QuotaAnswer) -> RoutePlan {
        precondition(count > 0 && (0..<count).contains(start), "start outside the chain")
        var position = first
        while position < count {
            let index = (start + position) % count
            if position == count - 1 || !spills(index) {
                switch admit(index) {
                case .admitted: return .admitted(index: index, position: position)
                case .wouldQueue: return .queue(index: index, position: position)
                case .refused: break
                }
            }
            position += 1
        }
        return .endOfChain
    }
}
