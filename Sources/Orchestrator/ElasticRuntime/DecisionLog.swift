import Planning
/// Which task decisions are worth a journal line: elastic mode evaluates every few seconds,
/// and a line per task per evaluation would bury what changed. A task's decision is
/// reported when its verdict, its current count, its target or the resource it is heavy on
/// that offloading does not relieve differs from the last one reported. Pure.
public struct DecisionLog: Sendable {
    struct Key: Hashable, Sendable {
        var verdict: String
        var current: Int
        var target: Int
        var unrelieved: UsageResource?
    }

    private var last: [String: Key] = [:]

    public init() {}

    /// The task plans of `plan` whose decision changed since the last call, by task name.
    public mutating func changes(in plan: PolicyPlan) -> [TaskPlan] {
        var changed: [TaskPlan] = []
        var seen: Set<String> = []
        for task in plan.tasks {
            seen.insert(task.task)
            guard let decision = task.decision else { continue }
            let key = Key(verdict: decision.verdict.rawValue, current: decision.current, target: decision.target,
                          unrelieved: decision.unrelieved?.resource)
            if last[task.task] != key {
                last[task.task] = key
                changed.append(task)
            }
        }
        last = last.filter { seen.contains($0.key) }
        return changed
    }

    /// `health-monitor: offload, 0 → 1 CVMs: cpuPercent anticipated 200 ...`
    public static func line(for task: TaskPlan) -> String {
        guard let decision = task.decision else { return "\(task.task): not in the policy" }
        return "\(task.task): \(decision.verdict.rawValue), \(decision.current) → \(decision.target) CVM\(decision.target == 1 ? "" : "s"): \(decision.reason)"
    }
}
