import UsageModel
import Testing

@Suite("UsageSeries")
struct UsageSeriesTests {
    @Test("samples stay in time order; stale, repeated and non-finite samples are ignored")
    func ordering() {
        var series = UsageSeries([UsageSample(time: 20, value: 2), UsageSample(time: 10, value: 1)])
        series.append(UsageSample(time: 20, value: 9))
        series.append(UsageSample(time: 15, value: 9))
        series.append(UsageSample(time: 30, value: .nan))
        series.append(UsageSample(time: 40, value: 4))
        #expect(series.samples.map(\.time) == [10, 20, 40])
        #expect(series.samples.map(\.value) == [1, 2, 4])
    }

    @Test("trim keeps samples at or after the cut")
    func trim() {
        var series = UsageSeries((0..<10).map { UsageSample(time: Double($0), value: 1) })
        series.trim(before: 7)
        #expect(series.samples.map(\.time) == [7, 8, 9])
        series.trim(before: 100)
        #expect(series.isEmpty)
    }

    @Test("counters become rates per interval; a counter reset yields no sample")
    func counters() {
        let readings = [(0.0, 100.0), (10, 600), (20, 1600), (30, 50), (40, 450)].map { UsageSample(time: $0.0, value: $0.1) }
        let rates = UsageSeries(counters: readings)
        #expect(rates.samples == [
            UsageSample(time: 10, value: 50), UsageSample(time: 20, value: 100), UsageSample(time: 40, value: 40),
        ])
    }

    @Test("a series keeps time order and its capacity")
    func seriesRules() {
        let series = UsageSeries.bounded([(1, 1), (1, 5), (0.5, 7), (2, .infinity), (3, 3), (4, 4)], capacity: 2)
        #expect(series.samples.map(\.value) == [3, 4])
    }
}
