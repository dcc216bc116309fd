/// One task in a plan: what it has, what it should have, and anything that holds it back.
public struct TaskPlan: Sendable, Hashable {
    public var task: String
    /// The task's CVMs before the plan, by id.
    public var cvms: [CVMSnapshot]
    /// Nil for a task the policy no longer has.
    public var decision: OffloadDecision?
    /// Why something the decision wants is not (yet) in the actions: cooldown, concurrency
    /// limit, an action in flight, no host able to take a CVM, a push the trade does not favour.
    public var notes: [String]

    public init(task: String, cvms: [CVMSnapshot], decision: OffloadDecision?, notes: [String] = []) {
        self.task = task
        self.cvms = cvms
        self.decision = decision
        self.notes = notes
    }

    /// Healthy CVMs now.
    public var current: Int { cvms.count { $0.phase.isHealthy } }
    /// CVMs the task should have (0 for a task no longer in the policy).
    public var desired: Int { decision?.target ?? 0 }
}

/// What would change, desired state against current: the output of `cvmctl policy plan`.
public struct PolicyPlan: Sendable, Hashable, CustomStringConvertible {
    public var policyCommit: String
    /// Every task of the policy and every task that still has CVMs, by name.
    public var tasks: [TaskPlan]
    public var actions: [PlannedAction]

    public init(policyCommit: String, tasks: [TaskPlan], actions: [PlannedAction]) {
        self.policyCommit = policyCommit
        self.tasks = tasks
        self.actions = actions
    }

    /// True when the current state already matches the policy.
    public var isEmpty: Bool { actions.isEmpty }

    /// The plan for a person: one line per task, then one per action with its reason.
    public var description: String {
        var lines = ["plan for policy commit \(policyCommit):"]
        for task in tasks {
            let verdict = task.decision?.verdict.rawValue ?? "not in policy"
            lines.append("  \(task.task): \(task.current) → \(task.desired) CVMs (\(verdict))")
            for note in task.notes { lines.append("      note: \(note)") }
        }
        if actions.isEmpty {
            lines.append("no changes")
        } else {
            lines.append("\(actions.count) change\(actions.count == 1 ? "" : "s"):")
            for action in actions {
                lines.append("  \(action.summary) [\(action.cause.rawValue)]")
                lines.append("      because \(action.reason)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
