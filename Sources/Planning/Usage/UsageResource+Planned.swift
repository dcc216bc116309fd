extension UsageResource {
    /// The resources the planner measures and policies set thresholds on (policies/README.md:
    /// `cpuPercent`, `memoryMiB`, `connections`, `bytesPerSecond`, `diskBytesPerSecond`,
    /// `connectionsPerSecond`), in that order. `connectionsPerSecond` is the one measure of a
    /// task's work that does not depend on where it runs (a monitor's probes per second, the
    /// access log's records per second, a vServer's new connections): a task offloaded on it
    /// neither comes back nor leaves merely because it moved.
    ///
    /// Policy files, usage files and the traffic manager's report are read against this list,
    /// not `allCases`: the type also carries the traffic manager's own resources, which
    /// policies do not accept.
    public static let planned: [UsageResource] = [
        .cpuPercent, .memoryMiB, .connections, .bytesPerSecond, .diskBytesPerSecond, .connectionsPerSecond,
    ]
}
