import Foundation

/// Follows a ref (a branch, usually) of a policy repository for a long-running process:
/// each ``refresh()`` resolves the ref and, when it points at a commit not seen yet, reads and
/// validates it. Valid commits are adopted (and, unless recommending only, recorded in the
/// store as the commit in force); invalid ones are journaled once and ignored, the commit in
/// force stays. See ``PolicyTracker`` for the rules.
///
/// Journal kinds: `policy.adopted`, `policy.refused`, `policy.unreadable` (git failed; the
/// commit in force stays).
public struct PolicyFollower: Sendable {
    public let orchestrator: CVMOrchestrator
    public let repository: PolicyRepository
    public let ref: String
    /// Whether adopted commits are recorded as the commit in force (false in recommend-only mode).
    public let recordsApplied: Bool
    public let origin: String
    public private(set) var tracker: PolicyTracker
    private var lastProblem: String?
    private let root: String

    /// Reads `ref` once and starts with it. When it does not validate, the commit the store
    /// records as in force is used instead (if the repository has it and it still validates);
    /// when neither works, throws the refusal (or the git error) — there is nothing to follow.
    public static func start(
        orchestrator: CVMOrchestrator, repository: PolicyRepository, ref: String, recordsApplied: Bool, origin: String
    ) async throws -> PolicyFollower {
        let root = try await GitCommand.offPool { try repository.root() }
        var follower = PolicyFollower(
            orchestrator: orchestrator, repository: repository, ref: ref, recordsApplied: recordsApplied, origin: origin,
            tracker: PolicyTracker(), lastProblem: nil, root: root)
        let source = try orchestrator.policySource(repository)
        let candidate = try await GitCommand.offPool { try source.candidate(at: ref) }
        let first = follower.tracker.consider(candidate)
        await follower.note(first)
        if follower.tracker.inForce == nil, let applied = try await orchestrator.store.appliedPolicy(),
           try await GitCommand.offPool({ repository.contains(commit: applied.commit) }) {
            let earlier = try await GitCommand.offPool { try source.candidate(commit: applied.commit, ref: applied.ref) }
            let resumed = follower.tracker.consider(earlier)
            await follower.note(resumed)
        }
        guard follower.tracker.inForce != nil else {
            throw PolicySourceError.invalid(commit: candidate.commit, ref: ref, error: candidate.validationError!, inForce: nil)
        }
        return follower
    }

    /// The revision in force (``start`` guarantees there is one).
    public var inForce: PolicyRevision { tracker.inForce! }

    /// Resolves the ref and takes in a new commit if there is one. Never throws: git failures
    /// are journaled (once per distinct problem) and the commit in force stays.
    public mutating func refresh() async {
        let repository = self.repository, ref = self.ref
        do {
            let commit = try await GitCommand.offPool { try repository.resolve(ref) }
            guard tracker.needsReading(commit) else { return }
            let source = try orchestrator.policySource(repository)
            let candidate = try await GitCommand.offPool { try source.candidate(commit: commit, ref: ref) }
            lastProblem = nil
            let change = tracker.consider(candidate)
            await note(change)
        } catch {
            let problem = "\(error)"
            guard problem != lastProblem else { return }
            lastProblem = problem
            await orchestrator.journal("policy.unreadable", "\(origin): cannot read \(ref) in \(root): \(problem); policy \(inForce.shortCommit) stays in force",
                                 policyCommit: tracker.inForce?.commit)
        }
    }

    private mutating func note(_ change: PolicyTracker.Change) async {
        switch change {
        case .unchanged:
            break
        case let .adopted(revision, previous):
            let repository = self.repository
            let subject = (try? await GitCommand.offPool { repository.subject(of: revision.commit) }) ?? ""
            let policy = revision.policy
            let stored = (try? await orchestrator.store.appliedPolicy())?.commit
            let was = previous.map { "replaces \($0.prefix(12))" }
                ?? stored.map { $0 == revision.commit ? "already in force" : "replaces \($0.prefix(12)), in force until now" }
                ?? "no policy was in force"
            let scope = recordsApplied ? was : "for recommendations only; the commit in force stays \(stored.map { String($0.prefix(12)) } ?? "none")"
            await orchestrator.journal(
                "policy.adopted",
                "\(origin): commit \(revision.shortCommit) (\(revision.ref)) \"\(subject)\" adopted: \(policy.tasks.count) tasks, \(policy.tiers.count) tiers; \(scope)",
                policyCommit: revision.commit)
            if recordsApplied {
                do {
                    try await orchestrator.store.recordAppliedPolicy(AppliedPolicy(commit: revision.commit, ref: revision.ref, repository: root, appliedBy: origin))
                } catch {
                    orchestrator.logger.warning("could not record the policy commit in force", metadata: ["cvm.error": "\(error)"])
                }
            }
        case let .refused(commit, ref, error, inForce):
            let count = error.diagnostics.count
            let keeping = inForce.map { "policy \($0.prefix(12)) stays in force" } ?? "no policy in force yet"
            await orchestrator.journal(
                "policy.refused",
                "\(origin): commit \(commit.prefix(12)) (\(ref)) refused, \(count) error\(count == 1 ? "" : "s"): \(error.diagnostics[0].brief)\(count > 1 ? " …" : ""); \(keeping)",
                policyCommit: inForce)
        }
    }
}
