extension UsageResource {
    /// The resources the usage monitors follow per task and `/usage` reports, in that order.
    /// (`memoryMiB` and `diskBytesPerSecond` are the CVMs', measured from their heartbeats.)
    static let monitored: [UsageResource] = [
        .cpuPercent, .connections, .bytesPerSecond, .bytesInPerSecond, .bytesOutPerSecond,
        .connectionsPerSecond, .spillsPerSecond, .diskBytesPerSecond,
    ]
}
