import Testing
@testable import TrafficManager

@Suite struct UsageMathTests {
    static func series(_ values: [(Double, Double)], capacity: Int = 100) -> UsageSeries {
        var series = UsageSeries(capacity: capacity)
        for (time, value) in values { series.append(UsageSample(time: time, value: value)) }
        return series
    }

    @Test("a series keeps time order and its capacity")
    func seriesRules() {
        let series = Self.series([(1, 1), (1, 5), (0.5, 7), (2, .infinity), (3, 3), (4, 4)], capacity: 2)
        #expect(series.samples.map(\.value) == [3, 4])
    }

    @Test("pattern: rate, moving average, peak and trend of a line")
    func pattern() {
        let pattern = UsagePattern(Self.series([(0, 10), (1, 12), (2, 14), (3, 16)]))
        #expect(pattern.rate == 16)
        #expect(pattern.movingAverage == 13)
        #expect(pattern.peak == 16)
        #expect(abs(pattern.trend - 2) < 1e-9)
        #expect(UsagePattern(UsageSeries(capacity: 3)) == UsagePattern(rate: 0, movingAverage: 0, peak: 0, trend: 0, samples: 0))
    }

    @Test("forecast follows a steady trend and never goes below zero")
    func forecast() {
        let rising = UsageForecast(Self.series((0..<20).map { (Double($0), 5 * Double($0)) }), horizon: 10, alpha: 0.5, beta: 0.3)
        #expect(rising.anticipated > 95 + 40, "level near 95 and a trend near 5/s over 10 s")
        #expect(abs(rising.trend - 5) < 0.5)
        let falling = UsageForecast(Self.series((0..<10).map { (Double($0), 100 - 10 * Double($0)) }), horizon: 60, alpha: 0.5, beta: 0.5)
        #expect(falling.anticipated == 0)
        #expect(UsageForecast(Self.series([(5, 7)]), horizon: 30, alpha: 0.5, beta: 0.3).anticipated == 7)
        #expect(UsageForecast(UsageSeries(capacity: 2), horizon: 30, alpha: 0.5, beta: 0.3).anticipated == 0)
    }

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

    @Test("CPU of each loop is split by handler time; idle loops charge nobody")
    func attribution() {
        let cpu = CPUAttribution.attribute(
            threadNanos: [0: 1000, 1: 600, -1: 50],
            busy: [.init(task: "a", loop: 0, nanos: 300), .init(task: "b", loop: 0, nanos: 100),
                   .init(task: "a", loop: 1, nanos: 10), .init(task: "m", loop: -1, nanos: 0)])
        #expect(abs(cpu["a"]! - 1350) < 1e-9)
        #expect(abs(cpu["b"]! - 250) < 1e-9)
        #expect(cpu["m"] == 0)
    }
}
