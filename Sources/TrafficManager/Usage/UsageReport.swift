/// What `/usage` serves: every task's counters, current usage, usage patterns and anticipated
/// usage (SPEC.md §1.3). Encoded as JSON with these property names.
public struct UsageReport: Sendable, Hashable, Codable {
    /// Wall-clock time of the sample, seconds since 1970.
    public var time: Double
    public var uptimeSeconds: Double
    public var intervalSeconds: Double
    public var horizonSeconds: Double
    public var cores: Int
    /// The configuration generation in force (1 at start, +1 per reload).
    public var generation: Int
    public var process: ProcessUsage
    public var tasks: [TaskReport]

    public init(time: Double, uptimeSeconds: Double, intervalSeconds: Double, horizonSeconds: Double, cores: Int,
                generation: Int, process: ProcessUsage, tasks: [TaskReport]) {
        self.time = time
        self.uptimeSeconds = uptimeSeconds
        self.intervalSeconds = intervalSeconds
        self.horizonSeconds = horizonSeconds
        self.cores = cores
        self.generation = generation
        self.process = process
        self.tasks = tasks
    }

    public func task(_ name: String) -> TaskReport? { tasks.first { $0.name == name } }
}

public struct ProcessUsage: Sendable, Hashable, Codable {
    public var cpuPercent: Double
    public var cpuSeconds: Double
    public var residentMiB: Double

    public init(cpuPercent: Double, cpuSeconds: Double, residentMiB: Double) {
        self.cpuPercent = cpuPercent
        self.cpuSeconds = cpuSeconds
        self.residentMiB = residentMiB
    }
}

/// One task: a vServer's balancing (`vserver/NAME`), a monitor (`monitor/NAME`), or the
/// access log's writer (`accesslog`).
public struct TaskReport: Sendable, Hashable, Codable {
    public var name: String
    /// The task name the orchestrator's policies use.
    public var task: String
    public var kind: TaskUsage.Kind
    public var totals: TaskTotals
    /// The latest value of each resource (keys: `UsageResource` raw values).
    public var current: [String: Double]
    public var patterns: [String: UsagePattern]
    public var forecast: [String: UsageForecast]

    public init(name: String, task: String, kind: TaskUsage.Kind, totals: TaskTotals, current: [String: Double],
                patterns: [String: UsagePattern], forecast: [String: UsageForecast]) {
        self.name = name
        self.task = task
        self.kind = kind
        self.totals = totals
        self.current = current
        self.patterns = patterns
        self.forecast = forecast
    }
}

/// Cumulative counts of a task since the traffic manager started.
public struct TaskTotals: Sendable, Hashable, Codable {
    public var cpuSeconds: Double
    public var connections: Int
    public var activeConnections: Int
    public var bytesIn: Int
    public var bytesOut: Int
    public var spills: Int
    public var refusals: Int
    public var connectFailures: Int
    public var queued: Int
    public var diskBytes: Int

    public init(cpuSeconds: Double, counters: TaskCounterSnapshot) {
        self.cpuSeconds = cpuSeconds
        connections = counters.opened
        activeConnections = counters.active
        bytesIn = counters.bytesIn
        bytesOut = counters.bytesOut
        spills = counters.spills
        refusals = counters.refusals
        connectFailures = counters.connectFailures
        queued = counters.queued
        diskBytes = counters.diskBytes
    }
}
