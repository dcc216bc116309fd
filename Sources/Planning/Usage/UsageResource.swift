/// A resource a TMS task (or the CVMs that carry it) uses, as accounted by the usage monitors.
///
/// The raw value is the key used for it in policy files (`thresholds:`) and in reasons.
public enum UsageResource: String, Sendable, Hashable, CaseIterable, Comparable {
    /// CPU time as a percentage of one core (100 = one core busy).
    case cpuPercent
    /// Resident memory in MiB.
    case memoryMiB
    /// Concurrent connections.
    case connections
    /// Network bytes per second, in and out together.
    case bytesPerSecond
    /// Disk bytes per second, read and written together.
    case diskBytesPerSecond

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
        }
    }
}
