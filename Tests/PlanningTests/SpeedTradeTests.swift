import Testing
@testable import Planning

@Suite("SpeedTrade")
struct SpeedTradeTests {
    func speed(_ cpuShare: Double, speed: Double = 1, load: Double = 0, latency: Double = 0) -> Double {
        SpeedTrade.relativeSpeed(profile: UsageProfile(cpuShare: cpuShare), cpuSpeed: speed, load: load, latencyMs: latency, ioLatencyScaleMs: 10)
    }

    @Test("an idle host like the TMS's is the baseline")
    func baseline() {
        #expect(speed(0) == 1 && speed(0.5) == 1 && speed(1) == 1)
    }

    @Test("a CPU-bound task gains from a faster CPU; an I/O-bound one loses to latency")
    func trade() {
        #expect(speed(1, speed: 2, latency: 10) == 2)          // CPU-bound: latency irrelevant
        #expect(speed(0, speed: 2, latency: 10) == 0.5)        // I/O-bound: 10 ms doubles its time
        // Half and half: 0.5/2 + 0.5 × 2 = 1.25 → 0.8
        #expect(abs(speed(0.5, speed: 2, latency: 10) - 0.8) < 1e-12)
    }

    @Test("load takes CPU away; a saturated host is slow, not infinitely so")
    func load() {
        #expect(abs(speed(1, load: 0.5) - 0.5) < 1e-12)
        #expect(abs(speed(1, load: 1) - 0.05) < 1e-12)
        #expect(speed(1, load: 0.9) < speed(1, speed: 1.2, load: 0.2, latency: 5))
    }
}
