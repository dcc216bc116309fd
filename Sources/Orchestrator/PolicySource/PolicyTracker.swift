import Planning
/// Which policy commit is in force while a branch (or any ref) moves: a pure state machine
/// fed with the candidates read from git.
///
/// Rules:
/// - a valid commit other than the one in force is adopted;
/// - an invalid commit is refused and the one in force stays (none, if none was adopted);
///   it is reported once — seeing it again changes nothing and reports nothing new;
/// - the commit in force, seen again, changes nothing.
public struct PolicyTracker: Sendable {
    public private(set) var inForce: PolicyRevision?
    /// Commits refused so far, so each is reported once.
    public private(set) var refused: Set<String> = []

    /// What considering a candidate did.
    public enum Change: Sendable, Hashable {
        /// The candidate is the commit in force, or a commit already refused.
        case unchanged
        /// The candidate is now in force; `previous` was before (nil at the start).
        case adopted(PolicyRevision, previous: String?)
        /// The candidate does not validate; `inForce` stays (nil: nothing is in force).
        case refused(commit: String, ref: String, error: PolicyValidationError, inForce: String?)
    }

    public init(inForce: PolicyRevision? = nil) {
        self.inForce = inForce
    }

    /// Whether `commit` still has to be read and validated: neither in force nor refused.
    public func needsReading(_ commit: String) -> Bool {
        commit != inForce?.commit && !refused.contains(commit)
    }

    public mutating func consider(_ candidate: PolicyCandidate) -> Change {
        guard needsReading(candidate.commit) else { return .unchanged }
        switch candidate.outcome {
        case let .success(policy):
            let previous = inForce?.commit
            let revision = PolicyRevision(commit: candidate.commit, ref: candidate.ref, policy: policy)
            inForce = revision
            return .adopted(revision, previous: previous)
        case let .failure(error):
            refused.insert(candidate.commit)
            return .refused(commit: candidate.commit, ref: candidate.ref, error: error, inForce: inForce?.commit)
        }
    }
}
