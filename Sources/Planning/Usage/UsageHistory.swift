import UsageModel
/// Windowed usage series per task and resource: the planner's memory of what it measured.
public struct UsageHistory: Sendable, Hashable {
    public private(set) var series: [String: [UsageResource: UsageSeries]]

    public init() {
        series = [:]
    }

    /// Records `observations` at `time` and drops samples older than `time - window`.
    public mutating func record(_ observations: [UsageObservation], at time: Double, window: Double) {
        for observation in observations {
            for (resource, value) in observation.values {
                series[observation.task, default: [:]][resource, default: UsageSeries()]
                    .append(UsageSample(time: time, value: value))
            }
        }
        let oldest = time - window
        for task in series.keys {
            for resource in series[task]!.keys {
                series[task]![resource]!.trim(before: oldest)
            }
            series[task] = series[task]!.filter { !$0.value.isEmpty }
        }
        series = series.filter { !$0.value.isEmpty }
    }

    public func series(task: String, resource: UsageResource) -> UsageSeries? {
        series[task]?[resource]
    }

    /// Forgets a task (it left the policy).
    public mutating func forget(task: String) {
        series[task] = nil
    }
}
