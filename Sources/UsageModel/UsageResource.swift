/// A resource a task (a TMS task, or the CVMs that carry it) uses, as the usage monitors
/// account it. The raw value is its key everywhere it is written: policy files
/// (`thresholds:`), usage files, the traffic manager's `/usage` report, reasons.
///
/// Not every part of the system follows every resource. The planner and the policies know
/// the first five and `connectionsPerSecond` (`UsageResource.planned`, in Planning); the traffic manager's usage
/// monitors follow `cpuPercent`, `connections`, `bytesPerSecond` and the last four. Code that
/// lists or validates resources uses its own list, not `allCases`, so a resource added for
/// one part never widens what another part accepts.
///
/// Ordered as declared (the order reasons and reports list them in).
public enum UsageResource: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// CPU time as a percentage of one core (100 = one core busy).
    case cpuPercent
    /// Resident memory in MiB.
    case memoryMiB
    /// Concurrent connections (for a traffic manager monitor: probes in flight).
    case connections
    /// Network bytes per second, in and out together.
    case bytesPerSecond
    /// Disk bytes per second, read and written together.
    case diskBytesPerSecond
    /// Network bytes received per second.
    case bytesInPerSecond
    /// Network bytes sent per second.
    case bytesOutPerSecond
    /// New connections per second (for a traffic manager monitor: probes per second).
    case connectionsPerSecond
    /// Connections sent down the backup chain per second.
    case spillsPerSecond

    public static func < (lhs: UsageResource, rhs: UsageResource) -> Bool {
        lhs.order < rhs.order
    }

    private var order: Int {
        switch self {
        case .cpuPercent: 0
        case .memoryMiB: 1
        case .connections: 2
        case .bytesPerSecond: 3
        case .diskBytesPerSecond: 4
        case .bytesInPerSecond: 5
        case .bytesOutPerSecond: 6
        case .connectionsPerSecond: 7
        case .spillsPerSecond: 8
        }
    }
}
