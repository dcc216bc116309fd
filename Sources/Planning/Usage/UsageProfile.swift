/// How a task spends its time: the share that is CPU-bound versus I/O-bound.
///
/// Placement uses it to weigh a faster remote CPU against the latency every I/O round trip
/// then pays. Contract: `cpuShare` is clamped to 0...1 and `ioShare == 1 - cpuShare`.
public struct UsageProfile: Sendable, Hashable {
    public private(set) var cpuShare: Double

    public var ioShare: Double { 1 - cpuShare }

    public init(cpuShare: Double) {
        self.cpuShare = cpuShare.isFinite ? min(1, max(0, cpuShare)) : 0.5
    }

    /// Half CPU-bound, half I/O-bound: the default when a task rule says nothing.
    public static let balanced = UsageProfile(cpuShare: 0.5)
}
