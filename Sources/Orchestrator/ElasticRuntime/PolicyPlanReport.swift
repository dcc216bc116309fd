import Planning

/// A planned action as `policy plan --json` and the API show it.
public struct PlannedActionReport: Encodable, Sendable {
    public var summary: String
    public var task: String
    public var cause: String
    public var reason: String
    public var policyCommit: String

    public init(_ a: PlannedAction) {
        summary = a.summary
        task = a.task
        cause = a.cause.rawValue
        reason = a.reason
        policyCommit = a.policyCommit
    }
}

/// A policy plan as `policy plan --json` and the API show it: per task its CVM count now and
/// desired, the verdict and why, then the actions.
public struct PolicyPlanReport: Encodable, Sendable {
    public struct Task: Encodable, Sendable {
        public var task: String
        public var current: Int
        public var desired: Int
        public var verdict: String?
        public var reason: String?
        public var notes: [String]
    }

    public var policyCommit: String
    public var tasks: [Task]
    public var actions: [PlannedActionReport]

    public init(_ plan: PolicyPlan) {
        policyCommit = plan.policyCommit
        tasks = plan.tasks.map {
            Task(task: $0.task, current: $0.current, desired: $0.desired, verdict: $0.decision?.verdict.rawValue,
                 reason: $0.decision?.reason, notes: $0.notes)
        }
        actions = plan.actions.map(PlannedActionReport.init)
    }
}

