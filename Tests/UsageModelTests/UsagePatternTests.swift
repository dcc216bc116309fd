import Foundation
import UsageModel
import Testing

@Suite("UsagePattern")
struct UsagePatternTests {
    @Test("rate, moving average, peak and least-squares trend of a series")
    func figures() {
        // v = 5 + 0.5 t, plus a spike at t = 20
        var samples = stride(from: 0.0, through: 40, by: 10).map { UsageSample(time: $0, value: 5 + 0.5 * $0) }
        samples[2].value += 10
        let p = UsagePattern(UsageSeries(samples))
        #expect(p.rate == 25)
        #expect(p.movingAverage == 17)  // (5 + 10 + 25 + 20 + 25) / 5
        #expect(p.peak == 25)
        #expect(abs(p.trend - 0.5) < 1e-12)  // the spike is at the mean time: no effect on the slope
        #expect(p.sampleCount == 5)
        #expect(p.span == 40)
    }

    @Test("epoch-sized timestamps do not lose the trend")
    func largeTimes() {
        let t0 = 1_800_000_000.0
        let samples = (0..<60).map { UsageSample(time: t0 + Double($0) * 15, value: 100 + 2 * Double($0)) }
        let p = UsagePattern(UsageSeries(samples))
        #expect(abs(p.trend - 2.0 / 15) < 1e-9)
    }

    @Test("empty and single-sample series")
    func degenerate() {
        #expect(UsagePattern(UsageSeries()) == UsagePattern(rate: 0, movingAverage: 0, peak: 0, trend: 0, sampleCount: 0, span: 0))
        let one = UsagePattern(UsageSeries([UsageSample(time: 3, value: 7)]))
        #expect(one.rate == 7 && one.movingAverage == 7 && one.peak == 7 && one.trend == 0)
    }

    @Test("pattern: rate, moving average, peak and trend of a line")
    func pattern() {
        let pattern = UsagePattern(UsageSeries.bounded([(0, 10), (1, 12), (2, 14), (3, 16)]))
        #expect(pattern.rate == 16)
        #expect(pattern.movingAverage == 13)
        #expect(pattern.peak == 16)
        #expect(abs(pattern.trend - 2) < 1e-9)
        #expect(UsagePattern(UsageSeries(capacity: 3)) == UsagePattern(rate: 0, movingAverage: 0, peak: 0, trend: 0, sampleCount: 0, span: 0))
    }
}

extension UsagePatternTests {
    @Test("JSON keys: the traffic manager's /usage names the sample count `samples`")
    func coding() throws {
        let pattern = UsagePattern(rate: 4, movingAverage: 3, peak: 5, trend: 0.5, sampleCount: 7, span: 60)
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(pattern)) as? [String: Double])
        #expect(object == ["rate": 4, "movingAverage": 3, "peak": 5, "trend": 0.5, "samples": 7, "span": 60])
        #expect(try JSONDecoder().decode(UsagePattern.self, from: JSONEncoder().encode(pattern)) == pattern)
    }
}
