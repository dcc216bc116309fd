extension UsageResource {
    /// The resources the planner measures and policies set thresholds on (policies/README.md:
    /// `cpuPercent`, `memoryMiB`, `connections`, `bytesPerSecond`, `diskBytesPerSecond`), in
    /// that order.
    ///
    /// Policy files, usage files and the traffic manager's report are read against this list,
    /// not `allCases`: the type also carries the traffic manager's own resources, which
    /// policies do not accept.
    public static let planned: [UsageResource] = [
        .cpuPercent, .memoryMiB, .connections, .bytesPerSecond, .diskBytesPerSecond,
    ]
}
