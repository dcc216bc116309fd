import UsageModel
import Testing
@testable import Planning

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
}
