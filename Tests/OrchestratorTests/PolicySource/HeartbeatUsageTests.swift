import Foundation
@testable import Orchestrator
import Testing

@Suite("HeartbeatUsage")
struct HeartbeatUsageTests {
    typealias R = ElasticTestRecords

    @Test("sums fresh heartbeats of policy CVMs per task; hand-deployed, stale and non-running CVMs do not count")
    func sumsPerTask() {
        let now = Date()
        var usage = HeartbeatUsage()
        let result = usage.observe([
            R.cvm("a", cpu: 20, memUsedKiB: 2048, connections: 5, heartbeatAt: now),
            R.cvm("b", cpu: 30, memUsedKiB: 1024, connections: 7, heartbeatAt: now.addingTimeInterval(-2.5)),
            R.cvm("c", task: "log-collector", cpu: 50, heartbeatAt: now),
            R.cvm("by-hand", policyCommit: nil, cpu: 99, heartbeatAt: now),
            R.cvm("stale", cpu: 99, heartbeatAt: now.addingTimeInterval(-3.5)),
            R.cvm("booting", state: .deploying, cpu: 99, heartbeatAt: now),
            R.cvm("broken", state: .failed, cpu: 99, heartbeatAt: now),
        ], now: now)
        #expect(result["health-monitor"]?[.cpuPercent] == 50)
        #expect(result["health-monitor"]?[.memoryMiB] == 3)
        #expect(result["health-monitor"]?[.connections] == 12)
        #expect(result["log-collector"] == [.cpuPercent: 50])
        #expect(result.count == 2)
    }

    @Test("a serving CVM's work is the traffic manager's to count (connections, bytes, CPU, disk); it adds its memory only")
    func servingCVMsAddNoTraffic() {
        let t0 = Date(), t1 = t0.addingTimeInterval(1)
        var usage = HeartbeatUsage()
        func serving(_ at: Date, net: Int64) -> CVMRecord {
            var r = R.cvm("backup", cpu: 40, memUsedKiB: 4096, connections: 3, heartbeatAt: at, netBytes: net, diskBytes: net)
            r.serving = true
            return r
        }
        _ = usage.observe([serving(t0, net: 0), R.cvm("plain", cpu: 10, memUsedKiB: 1024, connections: 2, heartbeatAt: t0, netBytes: 0)], now: t0)
        let result = usage.observe([serving(t1, net: 9000), R.cvm("plain", cpu: 10, memUsedKiB: 1024, connections: 2, heartbeatAt: t1, netBytes: 1000)], now: t1)
        #expect(result["health-monitor"]?[.connections] == 2)
        #expect(result["health-monitor"]?[.bytesPerSecond] == 1000)
        #expect(result["health-monitor"]?[.cpuPercent] == 10, "the plain CVM's only")
        #expect(result["health-monitor"]?[.diskBytesPerSecond] == 0, "the plain CVM's only (the serving one wrote 9000)")
        let memory = result["health-monitor"]?[.memoryMiB] ?? 0
        #expect(memory == 5, "both CVMs' memory: \(memory.debugDescription)")
    }

    @Test("network and disk counters become rates between heartbeats of the same boot")
    func countersToRates() {
        let t0 = Date()
        var usage = HeartbeatUsage()
        let first = usage.observe([R.cvm("a", heartbeatAt: t0, netBytes: 1000, diskBytes: 500)], now: t0)
        #expect(first["health-monitor"]?[.bytesPerSecond] == nil)  // one reading: no rate yet

        let t1 = t0.addingTimeInterval(2)
        let second = usage.observe([R.cvm("a", heartbeatAt: t1, netBytes: 5000, diskBytes: 1500)], now: t1)
        #expect(second["health-monitor"]?[.bytesPerSecond] == 2000)
        #expect(second["health-monitor"]?[.diskBytesPerSecond] == 500)

        // No new heartbeat since: the last rate stands.
        let again = usage.observe([R.cvm("a", heartbeatAt: t1, netBytes: 5000, diskBytes: 1500)], now: t1.addingTimeInterval(0.5))
        #expect(again["health-monitor"]?[.bytesPerSecond] == 2000)

        // A reboot resets the counters: no rate across boots.
        let t2 = t1.addingTimeInterval(1)
        let rebooted = usage.observe([R.cvm("a", boot: "b2", heartbeatAt: t2, netBytes: 10, diskBytes: 10)], now: t2)
        #expect(rebooted["health-monitor"]?[.bytesPerSecond] == nil)
    }
}
