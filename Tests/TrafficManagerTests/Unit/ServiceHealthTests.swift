import Testing
@testable import TrafficManager

@Suite struct ServiceHealthTests {
    @Test("the running average is the mean at first, then an exponential average over the span")
    func average() {
        var average = ResponseTimeAverage(span: 3)
        average.add(0.010)
        average.add(0.020)
        #expect(abs(average.average! - 0.015) < 1e-12)
        average.add(0.030)
        #expect(abs(average.average! - 0.020) < 1e-12)
        average.add(0.060)
        #expect(abs(average.average! - 0.040) < 1e-12, "weight 2/(3+1) = 0.5 from the span on")
        average.add(.nan)
        #expect(average.samples == 4)
    }

    @Test("deviation applies after warm-up only")
    func deviationWarmUp() {
        var average = ResponseTimeAverage(span: 10)
        average.add(0.001)
        #expect(!average.deviates(1, byMoreThan: 100))
        average.add(0.001)
        average.add(0.001)
        #expect(average.deviates(0.0021, byMoreThan: 100))
        #expect(!average.deviates(0.0019, byMoreThan: 100))
    }

    @Test("verdicts: unreachable, bad status, over the limit, deviating, healthy")
    func verdicts() {
        let monitor = MonitorConfig(name: "m", kind: .http(path: "/", expect: 200...299), rise: 1, fall: 1,
                                    responseTimeLimit: .milliseconds(100), deviationPercent: 200)
        var health = ServiceHealth(config: monitor)
        #expect(health.record(.failed("refused")).verdict == .unreachable("refused"))
        #expect(health.record(.answered(seconds: 0.001, status: 200)).flip == true)
        #expect(health.record(.answered(seconds: 0.001, status: 500)).verdict == .badStatus(500))
        #expect(health.record(.answered(seconds: 0.001, status: 200)).verdict == .healthy)
        #expect(health.record(.answered(seconds: 0.2, status: 200)).verdict == .slowerThanLimit(seconds: 0.2))
        for _ in 0..<3 { _ = health.record(.answered(seconds: 0.010, status: 200)) }
        let (verdict, flip) = health.record(.answered(seconds: 0.09, status: 200))
        guard case .deviates = verdict else {
            Issue.record("expected a deviation, got \(verdict)")
            return
        }
        #expect(flip == false)
        #expect(!health.isUp)
    }

    @Test("a TCP monitor ignores status and judges only reachability and time")
    func tcp() {
        var health = ServiceHealth(config: MonitorConfig(name: "t", kind: .tcp, rise: 1, fall: 2))
        #expect(health.record(.answered(seconds: 0.001, status: nil)).verdict == .healthy)
        #expect(health.record(.failed("timed out")).flip == nil)
        #expect(health.record(.failed("timed out")).flip == false)
    }
}
