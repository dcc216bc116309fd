/// The elastic mode's decision logic as a pure state machine: each evaluation takes what was
/// measured and what runs, and returns the actions to take, with reasons.
///
/// The loop around it (SPEC §2, Elastic mode) measures (TMS usage monitors + CVM heartbeats,
/// summed per task into ``UsageObservation``s), builds a ``HostInventory`` (hosts with used
/// capacity, load and latency; CVMs with their phase), calls ``evaluate(now:observations:inventory:policy:policyCommit:)``
/// every `policy.elastic.intervalSeconds`, carries the actions out, and reports their
/// progress through the CVM phases of the next inventory.
///
/// Guarantees of one evaluation:
/// - at most `maxConcurrentActions` minus the actions already in flight are returned;
/// - a task gets no scaling or rebalancing action within `cooldownSeconds` of the last one,
///   nor while one of its CVMs is being deployed, migrated or decommissioned;
/// - hysteresis as in ``OffloadDecision``; pushes and bring-backs each at most one per local
///   host, separated by the same band;
/// - deterministic: the same inputs and state give the same actions.
///
/// In recommend-only mode, call `evaluate` as usual and carry nothing out: the cooldowns then
/// pace the recommendations as they would pace the actions. `plan` answers "what would change
/// now" without cooldowns or limits (`cvmctl policy plan`).
public struct ElasticPlanner: Sendable {
    public private(set) var history: UsageHistory
    /// When each task last had a cooldown-starting action.
    public private(set) var lastActionAt: [String: Double]
    /// The last evaluation in full: every task's decision and notes (what waited, and why)
    /// besides the actions returned — for the event log and `--recommend-only`.
    public private(set) var lastEvaluation: PolicyPlan?

    /// - Parameter lastActionAt: cooldowns carried over from an earlier run (the store keeps
    ///   them, so a restarted elastic mode does not act again at once).
    public init(lastActionAt: [String: Double] = [:]) {
        history = UsageHistory()
        self.lastActionAt = lastActionAt
        lastEvaluation = nil
    }

    /// Records `observations`, decides, and returns the actions to take now.
    public mutating func evaluate(
        now: Double, observations: [UsageObservation], inventory: HostInventory, policy: PolicySet,
        policyCommit: String
    ) -> [PlannedAction] {
        history.record(observations, at: now, window: policy.elastic.windowSeconds)
        for task in history.series.keys where policy.tasks[task] == nil {
            history.forget(task: task)
        }
        let budget = max(0, policy.elastic.maxConcurrentActions - inventory.actionsInFlight)
        var round = PlanningRound(
            now: now, inventory: inventory, policy: policy, policyCommit: policyCommit, history: history,
            gates: PlanningRound.Gates(budget: budget, cooldownSeconds: policy.elastic.cooldownSeconds, lastActionAt: lastActionAt))
        round.run()
        for action in round.actions where action.cause.startsCooldown {
            lastActionAt[action.task] = now
        }
        lastActionAt = lastActionAt.filter { policy.tasks[$0.key] != nil }
        lastEvaluation = PolicyPlan(policyCommit: policyCommit, tasks: round.taskPlans(), actions: round.actions)
        return round.actions
    }

    /// What would change to bring `inventory` in line with `policy` at `policyCommit`, with
    /// the usage known so far (plus `observations`, not recorded): the desired state against
    /// the current one, ignoring cooldowns and the concurrency limit. Changes nothing.
    public func plan(
        now: Double, observations: [UsageObservation] = [], inventory: HostInventory, policy: PolicySet,
        policyCommit: String
    ) -> PolicyPlan {
        var history = self.history
        history.record(observations, at: now, window: policy.elastic.windowSeconds)
        var round = PlanningRound(
            now: now, inventory: inventory, policy: policy, policyCommit: policyCommit, history: history, gates: nil)
        round.run()
        return PolicyPlan(policyCommit: policyCommit, tasks: round.taskPlans(), actions: round.actions)
    }
}
