/// Pure parsers for the Linux `/proc` files the guest agent samples for its heartbeats.
///
/// Each takes the file's text and returns nil (or zero counts) when the text does not have
/// the expected shape, so a kernel that lacks a file or a device gives zeros, not a crash.
public enum ProcUsage {
    /// Cumulative CPU time of all CPUs, in clock ticks, from the `cpu` line of `/proc/stat`.
    public struct CPUTimes: Sendable, Equatable {
        /// user + nice + system + idle + iowait + irq + softirq + steal.
        public var total: UInt64
        /// idle + iowait.
        public var idle: UInt64

        public init(total: UInt64, idle: UInt64) {
            self.total = total
            self.idle = idle
        }

        /// Busy share of all CPUs between `earlier` and `self`, 0...100; 0 when no time passed.
        public func busyPercent(since earlier: CPUTimes) -> Double {
            guard total > earlier.total else { return 0 }
            let elapsed = Double(total - earlier.total)
            let idleDelta = idle >= earlier.idle ? Double(idle - earlier.idle) : 0
            return max(0, min(100, (elapsed - idleDelta) / elapsed * 100))
        }
    }

    /// Parses the aggregate `cpu ` line of `/proc/stat`.
    public static func cpuTimes(stat text: String) -> CPUTimes? {
        for line in text.split(separator: "\n") where line.hasPrefix("cpu ") {
            let values = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
            guard values.count >= 4 else { return nil }
            // guest and guest_nice (9th, 10th) are already included in user and nice.
            let total = values.prefix(8).reduce(0, &+)
            let idle = values[3] &+ (values.count > 4 ? values[4] : 0)
            return CPUTimes(total: total, idle: idle)
        }
        return nil
    }

    /// `MemTotal` and `MemTotal - MemAvailable` from `/proc/meminfo`, in KiB.
    public static func memory(meminfo text: String) -> (usedKiB: UInt64, totalKiB: UInt64)? {
        var total: UInt64?
        var available: UInt64?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = UInt64(parts[1]) else { continue }
            if parts[0] == "MemTotal:" { total = value }
            if parts[0] == "MemAvailable:" { available = value }
        }
        guard let total else { return nil }
        let free = min(available ?? 0, total)
        return (total - free, total)
    }

    /// Bytes read and written by block device `device` (e.g. `vda`), from `/proc/diskstats`
    /// (sectors × 512). Zeros when the device is absent.
    public static func disk(diskstats text: String, device: String) -> (readBytes: UInt64, writeBytes: UInt64) {
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 10, parts[2] == device[...] else { continue }
            let sectorsRead = UInt64(parts[5]) ?? 0
            let sectorsWritten = UInt64(parts[9]) ?? 0
            return (sectorsRead &* 512, sectorsWritten &* 512)
        }
        return (0, 0)
    }

    /// Bytes received and sent by every interface except `lo`, from `/proc/net/dev`.
    public static func network(netDev text: String) -> (rxBytes: UInt64, txBytes: UInt64) {
        var rx: UInt64 = 0
        var tx: UInt64 = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].split(separator: " ").first ?? ""
            guard name != "lo" else { continue }
            let values = line[line.index(after: colon)...].split(separator: " ").map { UInt64($0) }
            guard values.count >= 9, let received = values[0], let sent = values[8] else { continue }
            rx &+= received
            tx &+= sent
        }
        return (rx, tx)
    }

    /// Number of ESTABLISHED sockets (state `01`) in `/proc/net/tcp` or `/proc/net/tcp6`.
    public static func establishedConnections(tcp text: String) -> UInt64 {
        var count: UInt64 = 0
        for line in text.split(separator: "\n").dropFirst() {
            let parts = line.split(separator: " ")
            if parts.count > 3, parts[3] == "01" { count += 1 }
        }
        return count
    }
}
