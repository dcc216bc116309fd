import Planning
/// The policies of one commit, validated: what is in force once adopted.
public struct PolicyRevision: Sendable, Hashable {
    /// The full commit id.
    public var commit: String
    /// The ref it was read through (`HEAD`, `main`, a tag), for messages.
    public var ref: String
    public var policy: PolicySet

    public init(commit: String, ref: String, policy: PolicySet) {
        self.commit = commit
        self.ref = ref
        self.policy = policy
    }

    /// The first 12 hex digits, as events and plans show a commit.
    public var shortCommit: String { String(commit.prefix(12)) }
}

/// The policies of one commit as read, valid or not.
public struct PolicyCandidate: Sendable, Hashable {
    public var commit: String
    public var ref: String
    /// The validated set, or every problem found (never empty).
    public var outcome: Result<PolicySet, PolicyValidationError>

    public init(commit: String, ref: String, outcome: Result<PolicySet, PolicyValidationError>) {
        self.commit = commit
        self.ref = ref
        self.outcome = outcome
    }

    /// The revision when the commit validated.
    public var revision: PolicyRevision? {
        guard case let .success(policy) = outcome else { return nil }
        return PolicyRevision(commit: commit, ref: ref, policy: policy)
    }

    /// The problems when it did not.
    public var validationError: PolicyValidationError? {
        guard case let .failure(error) = outcome else { return nil }
        return error
    }
}
