/// The usage of one task measured at one evaluation: what the TMS usage monitors report for the
/// part the TMS still runs plus what the task's CVMs report in their heartbeats, summed.
public struct UsageObservation: Sendable, Hashable {
    public var task: String
    public var values: [UsageResource: Double]

    public init(task: String, values: [UsageResource: Double]) {
        self.task = task
        self.values = values
    }
}
