import Planning
import Foundation

extension CVMOrchestrator {
    /// Hosts and policy-managed CVMs as the planner sees them now (see ``ElasticInventory``).
    public func elasticInventory(pending: [PendingAction] = []) throws -> HostInventory {
        ElasticInventory.build(hosts: try store.hosts(), cvms: try store.cvms(), machine: LocalMachine.current(), pending: pending,
                               isAlive: LocalMachine.isAlive)
    }

    /// One measurement for `policy`: the sources' TMS readings plus the CVMs' current
    /// heartbeat usage (levels only: one reading gives no rates). A failing source throws.
    public func measureUsage(for policy: PolicySet, sources: [any UsageSource]) async throws -> [UsageObservation] {
        var readings: [TaskUsageReading] = []
        for source in sources { readings += try await source.read() }
        var heartbeats = HeartbeatUsage()
        let usage = heartbeats.observe(try await store.cvms(), now: Date())
        return ElasticMeasurement.observations(tms: readings, heartbeats: usage, tasks: policy.tasks.keys)
    }

    /// What would change to bring what runs in line with `revision` (`cvmctl policy plan`):
    /// the desired state against the current one, without cooldowns or concurrency limits.
    /// Without `observations` a task keeps its count within its min/max.
    public func policyPlan(_ revision: PolicyRevision, observations: [UsageObservation] = []) throws -> PolicyPlan {
        ElasticPlanner().plan(
            now: Date().timeIntervalSince1970, observations: observations, inventory: try elasticInventory(),
            policy: revision.policy, policyCommit: revision.commit)
    }

    /// Makes `revision` the policy in force and carries `plan` out, one action after the
    /// other in the plan's order (most urgent first), each journaled with the commit
    /// (`apply.action`, `apply.done`, `apply.failed`). A failed action does not stop the
    /// others. `progress` gets a line per action as it starts.
    public func applyPolicy(
        _ revision: PolicyRevision, plan: PolicyPlan, repositoryRoot: String,
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> [ActionOutcome] {
        try await store.recordAppliedPolicy(AppliedPolicy(commit: revision.commit, ref: revision.ref, repository: repositoryRoot, appliedBy: "apply"))
        await journal("policy.applied", "apply: commit \(revision.shortCommit) (\(revision.ref)) in force; \(plan.actions.count) change\(plan.actions.count == 1 ? "" : "s") to carry out",
                policyCommit: revision.commit)
        let runner = PolicyActionRunner(orchestrator: self, origin: "apply")
        var outcomes: [ActionOutcome] = []
        var taken: Set<String> = []
        for action in plan.actions {
            try Task.checkCancellation()
            let prepared = try runner.prepare(action, taken: taken, policy: revision.policy)
            taken.insert(prepared.cvm)
            progress("\(PolicyActionRunner.summary(of: prepared)) [\(action.cause.rawValue)]")
            outcomes.append(await runner.perform(prepared))
        }
        return outcomes
    }
}
