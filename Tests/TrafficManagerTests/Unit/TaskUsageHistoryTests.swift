import Testing
@testable import TrafficManager

@Suite struct TaskUsageHistoryTests {
    @Test("history turns counters into rates and levels")
    func history() {
        var history = TaskUsageHistory(window: 10)
        history.record(TaskCounterSnapshot(opened: 10, closed: 4, bytesIn: 1000, bytesOut: 500, spills: 1), cpuNanos: 0, at: 100)
        history.record(TaskCounterSnapshot(opened: 30, closed: 20, bytesIn: 3000, bytesOut: 1500, spills: 5), cpuNanos: 5e8, at: 102)
        let report = history.report(name: "vserver/a", task: "a", kind: .vserver, horizon: 10, alpha: 0.5, beta: 0.3)
        #expect(report.current["connections"] == 10)
        #expect(report.current["connectionsPerSecond"] == 10)
        #expect(report.current["bytesInPerSecond"] == 1000)
        #expect(report.current["bytesOutPerSecond"] == 500)
        #expect(report.current["bytesPerSecond"] == 1500)
        #expect(report.current["spillsPerSecond"] == 2)
        #expect(report.current["cpuPercent"] == 25)
        #expect(report.totals.cpuSeconds == 0.5)
        #expect(report.totals.connections == 30)
        #expect(report.totals.activeConnections == 10)
        #expect(report.patterns["connections"]?.peak == 10)
    }

    @Test("/usage reports the monitored resources only (not the CVMs' memory; disk is the access log's writes)")
    func reportedResources() {
        var history = TaskUsageHistory(window: 10)
        history.record(TaskCounterSnapshot(opened: 1, closed: 0, bytesIn: 10, bytesOut: 10, spills: 0), cpuNanos: 0, at: 1)
        let report = history.report(name: "vserver/a", task: "a", kind: .vserver, horizon: 10, alpha: 0.5, beta: 0.3)
        let keys: Set = ["cpuPercent", "connections", "bytesPerSecond", "bytesInPerSecond", "bytesOutPerSecond",
                         "connectionsPerSecond", "spillsPerSecond", "diskBytesPerSecond"]
        #expect(Set(report.current.keys) == keys)
        #expect(Set(report.patterns.keys) == keys)
        #expect(Set(report.forecast.keys) == keys)
        #expect(report.forecast["connections"]?.method == .holt(alpha: 0.5, beta: 0.3))
    }
}
