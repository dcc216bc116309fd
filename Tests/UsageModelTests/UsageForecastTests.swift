import Foundation
import UsageModel
import Testing

@Suite("UsageForecast")
struct UsageForecastTests {
    let ramp = UsageSeries(stride(from: 0.0, through: 300, by: 15).map { UsageSample(time: $0, value: 10 + 0.2 * $0) })

    @Test("linear: the least-squares line extrapolated by the horizon")
    func linear() {
        let f = UsageForecast(ramp, method: .linear, horizon: 60)
        #expect(abs(f.level - 70) < 1e-9)
        #expect(abs(f.trend - 0.2) < 1e-12)
        #expect(abs(f.anticipated - 82) < 1e-9)
    }

    @Test("holt converges on a steady ramp and anticipates ahead of the latest value")
    func holtRamp() {
        let f = UsageForecast(ramp, method: .holt(alpha: 0.5, beta: 0.3), horizon: 60)
        #expect(f.trend > 0.15 && f.trend < 0.25)
        #expect(f.anticipated > 70)  // above the latest sample: it anticipates
        #expect(abs(f.anticipated - 82) < 6)
    }

    @Test("holt on a flat series is the level, with no trend")
    func holtFlat() {
        let flat = UsageSeries((0..<20).map { UsageSample(time: Double($0) * 10, value: 42) })
        let f = UsageForecast(flat, method: .holt(alpha: 0.3, beta: 0.1), horizon: 120)
        #expect(f.level == 42 && f.trend == 0 && f.anticipated == 42)
    }

    @Test("holt smooths noise: one outlier moves the level by alpha of its size")
    func holtOutlier() {
        var samples = (0..<10).map { UsageSample(time: Double($0) * 10, value: 100) }
        samples.append(UsageSample(time: 100, value: 200))
        let f = UsageForecast(UsageSeries(samples), method: .holt(alpha: 0.3, beta: 0.1), horizon: 0)
        #expect(abs(f.level - 130) < 1e-9)
    }

    @Test("a falling trend never forecasts negative usage")
    func clampedAtZero() {
        let falling = UsageSeries((0..<10).map { UsageSample(time: Double($0) * 10, value: 50 - 5 * Double($0)) })
        #expect(UsageForecast(falling, method: .linear, horizon: 600).anticipated == 0)
        #expect(UsageForecast(falling, method: .holt(alpha: 0.8, beta: 0.8), horizon: 600).anticipated == 0)
    }

    @Test("holt's level never goes below zero: a collapse to zero leaves a level of zero, not a negative one")
    func holtLevelNotNegative() {
        // 100 for a while, then zeros: the falling trend would carry the level below zero.
        var samples = (0..<5).map { UsageSample(time: Double($0), value: 100) }
        samples += (5..<12).map { UsageSample(time: Double($0), value: 0) }
        let f = UsageForecast(UsageSeries(samples), method: .holt(alpha: 0.5, beta: 0.5), horizon: 1)
        #expect(f.level >= 0, "level \(f.level)")
        // And when usage returns, the level follows it up at once (from zero, not from below).
        samples.append(UsageSample(time: 12, value: 100))
        let back = UsageForecast(UsageSeries(samples), method: .holt(alpha: 0.5, beta: 0.5), horizon: 0)
        #expect(back.level >= 50 - 1e-9, "level \(back.level)")
    }

    @Test("no samples: nothing anticipated; one sample: that sample")
    func degenerate() {
        #expect(UsageForecast(UsageSeries(), method: .linear, horizon: 60).anticipated == 0)
        let one = UsageSeries([UsageSample(time: 0, value: 9)])
        #expect(UsageForecast(one, method: .holt(alpha: 0.3, beta: 0.1), horizon: 60).anticipated == 9)
        #expect(UsageForecast(one, method: .linear, horizon: 60).anticipated == 9)
    }

    @Test("forecast follows a steady trend and never goes below zero")
    func forecast() {
        let rising = UsageForecast(UsageSeries.bounded((0..<20).map { (Double($0), 5 * Double($0)) }), method: .holt(alpha: 0.5, beta: 0.3), horizon: 10)
        #expect(rising.anticipated > 95 + 40, "level near 95 and a trend near 5/s over 10 s")
        #expect(abs(rising.trend - 5) < 0.5)
        let falling = UsageForecast(UsageSeries.bounded((0..<10).map { (Double($0), 100 - 10 * Double($0)) }), method: .holt(alpha: 0.5, beta: 0.5), horizon: 60)
        #expect(falling.anticipated == 0)
        #expect(UsageForecast(UsageSeries.bounded([(5, 7)]), method: .holt(alpha: 0.5, beta: 0.3), horizon: 30).anticipated == 7)
        #expect(UsageForecast(UsageSeries(capacity: 2), method: .holt(alpha: 0.5, beta: 0.3), horizon: 30).anticipated == 0)
    }
}

extension UsageForecastTests {
    @Test("JSON keys: /usage's horizon, level, trend and anticipated, plus the method")
    func coding() throws {
        let forecast = UsageForecast(UsageSeries.bounded([(0, 1), (10, 3)]), method: .holt(alpha: 0.5, beta: 0.3), horizon: 30)
        let data = try JSONEncoder().encode(forecast)
        let object = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Set(object.keys) == ["method", "horizon", "level", "trend", "anticipated"])
        #expect(object["anticipated"] as? Double == forecast.anticipated)
        #expect(try JSONDecoder().decode(UsageForecast.self, from: data) == forecast)
    }
}
