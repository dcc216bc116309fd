import Planning
import Foundation

/// The usage a task's CVMs report in their heartbeats (as the monitor stores it), summed per
/// task: CPU percent, resident memory, connections, and network and disk bytes per second —
/// the last two turned into rates from the agents' cumulative counters between two
/// heartbeats of the same boot.
///
/// Only CVMs that run under a policy (`policyCommit` set) and whose last heartbeat is fresh
/// (at most three intervals old, the monitor's own failure rule) count. A CVM whose data
/// plane serves (cvm-tms: a backup vServer, the monitors, the log collector, a session-store
/// member) adds its memory only: the traffic manager reports that task's work wherever it
/// runs (connections, bytes, probes, records, and its own CPU and disk for it), and the CVM's
/// CPU (under TCG, several times the work's), its boot and shutdown I/O would make the task's
/// usage depend on where it runs. Measured: with them, a log-collector CVM's boot CPU (100 %)
/// and disk bursts made elastic mode deploy and retire the collector three times in 40 s.
/// Pure apart from the counters it remembers between calls.
public struct HeartbeatUsage: Sendable {
    struct Counters: Sendable {
        var heartbeatAt: Date
        var boot: String?
        var networkBytes: Int64
        var diskBytes: Int64
        var networkRate: Double?
        var diskRate: Double?
    }

    private var counters: [String: Counters] = [:]

    public init() {}

    /// Usage per task from the current CVM records.
    public mutating func observe(_ cvms: [CVMRecord], now: Date) -> [String: [UsageResource: Double]] {
        var result: [String: [UsageResource: Double]] = [:]
        var seen: Set<String> = []
        for cvm in cvms where cvm.policyCommit != nil && cvm.state == .running {
            guard let at = cvm.lastHeartbeatAt, now.timeIntervalSince(at) <= 3 * Double(max(cvm.intervalMs, 1)) / 1000 else { continue }
            seen.insert(cvm.id)
            var values = result[cvm.task] ?? [:]
            if let memory = cvm.memUsedKiB { values[.memoryMiB, default: 0] += Double(memory) / 1024 }
            let rates = rates(for: cvm, heartbeatAt: at)
            if cvm.serving != true {
                if let cpu = cvm.cpuPercent { values[.cpuPercent, default: 0] += GuestFigures.percent(cpu) }
                if let connections = cvm.connections { values[.connections, default: 0] += Double(connections) }
                if let network = rates.network { values[.bytesPerSecond, default: 0] += network }
                if let disk = rates.disk { values[.diskBytesPerSecond, default: 0] += disk }
            }
            result[cvm.task] = values
        }
        counters = counters.filter { seen.contains($0.key) }
        return result
    }

    /// Network and disk rates since the previous heartbeat of the same boot; the last rate
    /// again when no new heartbeat arrived since the previous call; nil until two readings.
    private mutating func rates(for cvm: CVMRecord, heartbeatAt: Date) -> (network: Double?, disk: Double?) {
        // Saturating: the figures come from a guest (bounded when recorded, but a store
        // written by an older version may hold anything).
        let network = GuestFigures.sum(cvm.netRxBytes ?? 0, cvm.netTxBytes ?? 0)
        let disk = GuestFigures.sum(cvm.diskReadBytes ?? 0, cvm.diskWriteBytes ?? 0)
        var next = Counters(heartbeatAt: heartbeatAt, boot: cvm.bootNonce, networkBytes: network, diskBytes: disk)
        if let before = counters[cvm.id], before.boot == cvm.bootNonce {
            let elapsed = heartbeatAt.timeIntervalSince(before.heartbeatAt)
            if elapsed > 0 {
                next.networkRate = network >= before.networkBytes ? Double(network - before.networkBytes) / elapsed : nil
                next.diskRate = disk >= before.diskBytes ? Double(disk - before.diskBytes) / elapsed : nil
            } else {
                next = before
            }
        }
        counters[cvm.id] = next
        return (next.networkRate, next.diskRate)
    }
}
