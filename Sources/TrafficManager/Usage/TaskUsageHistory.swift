/// The usage history of one task: the previous counters, and a series per resource. Turns
/// successive counter snapshots into rates and levels (pure; the sampler feeds it).
struct TaskUsageHistory {
    private(set) var previous: TaskCounterSnapshot?
    private(set) var previousTime: Double?
    private(set) var cpuSeconds = 0.0
    private(set) var series: [UsageResource: UsageSeries]

    init(window: Int) {
        series = Dictionary(uniqueKeysWithValues: UsageResource.monitored.map { ($0, UsageSeries(capacity: window)) })
    }

    /// Records the counters read at `time` (seconds) and the CPU time the task used since the
    /// previous sample. The first call only sets the baseline for rates (levels are recorded).
    mutating func record(_ counters: TaskCounterSnapshot, cpuNanos loopNanos: Double, at time: Double) {
        // A task with a thread of its own counts that thread's CPU itself.
        let cpuNanos = loopNanos + Double(max(0, counters.threadNanos - (previous?.threadNanos ?? counters.threadNanos)))
        cpuSeconds += cpuNanos / 1e9
        defer {
            previous = counters
            previousTime = time
        }
        append(.connections, Double(counters.active), at: time)
        guard let previous, let previousTime, time > previousTime else { return }
        let elapsed = time - previousTime
        func rate(_ now: Int, _ before: Int) -> Double { Double(max(0, now - before)) / elapsed }
        append(.cpuPercent, cpuNanos / 1e9 / elapsed * 100, at: time)
        append(.bytesInPerSecond, rate(counters.bytesIn, previous.bytesIn), at: time)
        append(.bytesOutPerSecond, rate(counters.bytesOut, previous.bytesOut), at: time)
        append(.bytesPerSecond, rate(counters.bytesIn + counters.bytesOut, previous.bytesIn + previous.bytesOut), at: time)
        append(.connectionsPerSecond, rate(counters.opened, previous.opened), at: time)
        append(.spillsPerSecond, rate(counters.spills, previous.spills), at: time)
        append(.diskBytesPerSecond, rate(counters.diskBytes, previous.diskBytes), at: time)
    }

    private mutating func append(_ resource: UsageResource, _ value: Double, at time: Double) {
        series[resource]?.append(UsageSample(time: time, value: value))
    }

    /// The task's section of `/usage`.
    func report(name: String, task: String, kind: TaskUsage.Kind, horizon: Double, alpha: Double, beta: Double) -> TaskReport {
        var current: [String: Double] = [:]
        var patterns: [String: UsagePattern] = [:]
        var forecast: [String: UsageForecast] = [:]
        for (resource, samples) in series {
            current[resource.rawValue] = samples.samples.last?.value ?? 0
            patterns[resource.rawValue] = UsagePattern(samples)
            forecast[resource.rawValue] = UsageForecast(samples, method: .holt(alpha: alpha, beta: beta), horizon: horizon)
        }
        return TaskReport(name: name, task: task, kind: kind,
                          totals: TaskTotals(cpuSeconds: cpuSeconds, counters: previous ?? TaskCounterSnapshot()),
                          current: current, patterns: patterns, forecast: forecast)
    }
}
