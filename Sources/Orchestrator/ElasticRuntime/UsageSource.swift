import Planning
/// What the traffic manager's usage monitors report for one task: the part of the task the
/// TMS itself still runs (SPEC §1.3), at one moment.
public struct TaskUsageReading: Sendable, Hashable {
    public var task: String
    /// When the monitor took the reading (seconds since 1970), if it said.
    public var time: Double?
    /// Levels and rates per resource (never cumulative counters).
    public var values: [UsageResource: Double]

    public init(task: String, time: Double? = nil, values: [UsageResource: Double]) {
        self.task = task
        self.time = time
        self.values = values
    }
}

/// Where elastic mode reads the TMS's task usage from.
///
/// Implementations: ``UsageFileSource`` (JSON lines in a file — the synthetic input used by
/// tests, benchmarks and demos). The traffic manager's admin endpoint becomes another source
/// when the traffic manager lands.
public protocol UsageSource: Sendable {
    /// What the source reads, for journal lines (`usage file /tmp/usage.jsonl`).
    var description: String { get }
    /// The current usage of every task the source knows, one reading per task. Called once
    /// per elastic evaluation; errors are journaled and that evaluation goes on without
    /// this source.
    func read() async throws -> [TaskUsageReading]
}
