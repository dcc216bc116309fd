import CVMProtocol

/// Reads the guest's resource usage from /proc for each heartbeat.
///
/// CPU use is the busy share since the previous sample, so the first sample after boot
/// covers the time since the sampler was created.
struct UsageSampler {
    struct Sample {
        var cpuPercent: Double
        var memUsedKiB: UInt64
        var memTotalKiB: UInt64
        var diskReadBytes: UInt64
        var diskWriteBytes: UInt64
        var netRxBytes: UInt64
        var netTxBytes: UInt64
        var connections: UInt64
        /// False when a file that always exists (stat, meminfo) could not be read.
        var complete: Bool
    }

    /// The block device whose I/O is reported.
    let diskDevice = "vda"
    private var previousCPU: ProcUsage.CPUTimes?

    init() {
        previousCPU = FileIO.readText("/proc/stat").flatMap { ProcUsage.cpuTimes(stat: $0) }
    }

    mutating func sample() -> Sample {
        var complete = true

        var cpuPercent = 0.0
        if let cpu = FileIO.readText("/proc/stat").flatMap({ ProcUsage.cpuTimes(stat: $0) }) {
            if let previousCPU { cpuPercent = cpu.busyPercent(since: previousCPU) }
            previousCPU = cpu
        } else {
            complete = false
        }

        let memory = FileIO.readText("/proc/meminfo").flatMap { ProcUsage.memory(meminfo: $0) }
        if memory == nil { complete = false }

        let disk = FileIO.readText("/proc/diskstats")
            .map { ProcUsage.disk(diskstats: $0, device: diskDevice) } ?? (readBytes: 0, writeBytes: 0)
        let net = FileIO.readText("/proc/net/dev")
            .map { ProcUsage.network(netDev: $0) } ?? (rxBytes: 0, txBytes: 0)
        let connections = ["/proc/net/tcp", "/proc/net/tcp6"].reduce(UInt64(0)) { total, path in
            total + (FileIO.readText(path).map { ProcUsage.establishedConnections(tcp: $0) } ?? 0)
        }

        return Sample(
            cpuPercent: cpuPercent,
            memUsedKiB: memory?.usedKiB ?? 0, memTotalKiB: memory?.totalKiB ?? 0,
            diskReadBytes: disk.readBytes, diskWriteBytes: disk.writeBytes,
            netRxBytes: net.rxBytes, netTxBytes: net.txBytes,
            connections: connections, complete: complete)
    }
}
