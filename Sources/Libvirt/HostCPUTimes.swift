import CLibvirt

/// A host's cumulative CPU times over all its CPUs (nanoseconds since it booted), as libvirt
/// reports them (`virNodeGetCPUStats`): what placement's load of a remote host comes from.
public struct HostCPUTimes: Sendable, Equatable {
    /// kernel + user (+ interrupts where reported).
    public var busy: UInt64
    /// busy + idle + iowait.
    public var total: UInt64

    public init(busy: UInt64, total: UInt64) {
        self.busy = busy
        self.total = total
    }

    /// The busy fraction (0...1) between `earlier` and this reading; nil when no time passed
    /// or a counter went backwards (the host rebooted).
    public func busyFraction(since earlier: HostCPUTimes) -> Double? {
        guard total > earlier.total, busy >= earlier.busy else { return nil }
        return min(1, Double(busy - earlier.busy) / Double(total - earlier.total))
    }
}

extension LibvirtConnection {
    /// The host's CPU times now.
    public func cpuTimes() throws -> HostCPUTimes {
        let all = Int32(VIR_NODE_CPU_STATS_ALL_CPUS.rawValue)
        var count: Int32 = 0
        var err = virError()
        guard cvm_virNodeGetCPUStats(raw, all, nil, &count, 0, &err) == 0, count > 0 else {
            throw LibvirtError(capturing: &err, operation: "virNodeGetCPUStats")
        }
        var stats = [virNodeCPUStats](repeating: virNodeCPUStats(), count: Int(count))
        guard cvm_virNodeGetCPUStats(raw, all, &stats, &count, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virNodeGetCPUStats")
        }
        var busy: UInt64 = 0, idle: UInt64 = 0
        for var stat in stats.prefix(Int(count)) {
            let field = withUnsafeBytes(of: &stat.field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            switch field {
            case "kernel", "user", "intr": busy &+= stat.value
            case "idle", "iowait": idle &+= stat.value
            default: break
            }
        }
        return HostCPUTimes(busy: busy, total: busy &+ idle)
    }
}
