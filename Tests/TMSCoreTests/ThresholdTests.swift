import Testing
@testable import TMSCore

@Suite struct ThresholdTests {
    @Test func absoluteIgnoresTheBase() {
        #expect(Threshold.absolute(5).resolve(against: 100) == 5)
        #expect(Threshold.absolute(0).resolve(against: 0) == 0)
    }

    @Test func percentRoundsDown() {
        // The patent's example: 80 % of the exclusive number, rounded.
        #expect(Threshold.percent(Percentage(80)!).resolve(against: 11) == 8)   // 8.8
        #expect(Threshold.percent(Percentage(10)!).resolve(against: 23) == 2)   // 2.3
        #expect(Threshold.percent(.hundred).resolve(against: 11) == 11)
    }
}
