import Planning
/// One evaluation's measurement: for every task of the policy, what the TMS usage monitors
/// report for the part the TMS runs plus what the task's CVMs report in their heartbeats,
/// summed per resource (``UsageObservation``). Pure.
public enum ElasticMeasurement {
    /// Observations for the tasks in `tasks`, by task name. A task with neither a TMS reading
    /// nor a fresh heartbeat gets no observation (the planner then holds it). Readings of
    /// tasks the policy does not have are ignored.
    public static func observations(
        tms readings: [TaskUsageReading], heartbeats: [String: [UsageResource: Double]], tasks: some Collection<String>
    ) -> [UsageObservation] {
        var tmsByTask: [String: [UsageResource: Double]] = [:]
        for reading in readings {
            tmsByTask[reading.task, default: [:]].merge(reading.values, uniquingKeysWith: +)
        }
        return tasks.sorted().compactMap { task in
            var values = tmsByTask[task] ?? [:]
            values.merge(heartbeats[task] ?? [:], uniquingKeysWith: +)
            return values.isEmpty ? nil : UsageObservation(task: task, values: values)
        }
    }
}
