import Planning
/// Reads and validates the policies of a commit: a ``PolicyRepository`` plus what the
/// policies are checked against (the image catalog and the host registry).
public struct PolicySource: Sendable {
    public var repository: PolicyRepository
    public var context: PolicyContext

    public init(repository: PolicyRepository, context: PolicyContext) {
        self.repository = repository
        self.context = context
    }

    /// The commit `ref` names now, read and validated. Git failures (no repository, unknown
    /// ref, no policy files) throw; validation problems are in the candidate's outcome.
    public func candidate(at ref: String) throws(PolicySourceError) -> PolicyCandidate {
        let commit = try repository.resolve(ref)
        return try candidate(commit: commit, ref: ref)
    }

    /// The given commit, read and validated.
    public func candidate(commit: String, ref: String) throws(PolicySourceError) -> PolicyCandidate {
        let files = try repository.policyFiles(at: commit)
        do throws(PolicyValidationError) {
            return PolicyCandidate(commit: commit, ref: ref, outcome: .success(try PolicyLoader.load(files, context: context)))
        } catch {
            return PolicyCandidate(commit: commit, ref: ref, outcome: .failure(error))
        }
    }

    /// The validated revision at `ref`; an invalid commit throws
    /// ``PolicySourceError/invalid(commit:ref:error:inForce:)`` naming `inForce` as the commit that stays.
    public func revision(at ref: String, inForce: String? = nil) throws(PolicySourceError) -> PolicyRevision {
        let candidate = try candidate(at: ref)
        switch candidate.outcome {
        case let .success(policy):
            return PolicyRevision(commit: candidate.commit, ref: ref, policy: policy)
        case let .failure(error):
            throw .invalid(commit: candidate.commit, ref: ref, error: error, inForce: inForce)
        }
    }
}
