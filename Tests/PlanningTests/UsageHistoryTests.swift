import Testing
@testable import Planning

@Suite("UsageHistory")
struct UsageHistoryTests {
    @Test("records per task and resource, windows the past, forgets empty series")
    func windowing() {
        var history = UsageHistory()
        for t in stride(from: 0.0, through: 100, by: 10) {
            var observations = [UsageObservation(task: "a", values: [.connections: t])]
            if t < 30 { observations.append(UsageObservation(task: "b", values: [.cpuPercent: 1])) }
            history.record(observations, at: t, window: 35)
        }
        #expect(history.series(task: "a", resource: .connections)?.samples.map(\.time) == [70, 80, 90, 100])
        #expect(history.series(task: "b", resource: .cpuPercent) == nil)
        #expect(history.series.keys.sorted() == ["a"])
    }

    @Test("outlook gives the pattern and forecast of every resource recorded")
    func outlook() {
        var history = UsageHistory()
        for t in stride(from: 0.0, through: 60, by: 15) {
            history.record([UsageObservation(task: "a", values: [.connections: 2 * t, .memoryMiB: 64])], at: t, window: 900)
        }
        let o = history.outlook(task: "a", method: .linear, horizon: 30)
        #expect(Set(o.keys) == [.connections, .memoryMiB])
        #expect(abs(o[.connections]!.anticipated - 180) < 1e-9)
        #expect(o[.connections]!.pattern.peak == 120)
        #expect(o[.memoryMiB]!.anticipated == 64)
        #expect(history.outlook(task: "none", method: .linear, horizon: 30).isEmpty)
    }
}
