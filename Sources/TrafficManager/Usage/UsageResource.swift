/// A resource the usage monitors follow per task. The raw value is its key in `/usage`; the
/// first three are the names the orchestrator's policies use (`cpuPercent`, `connections`,
/// `bytesPerSecond`).
public enum UsageResource: String, Sendable, Hashable, Codable, CaseIterable {
    /// CPU time the task used, as a percentage of one core (100 = one core busy).
    case cpuPercent
    /// Active connections (for a monitor: probes in flight).
    case connections
    /// Bytes in and out together, per second.
    case bytesPerSecond
    case bytesInPerSecond
    case bytesOutPerSecond
    /// New connections per second (for a monitor: probes per second).
    case connectionsPerSecond
    /// Connections sent down the backup chain per second.
    case spillsPerSecond
}
