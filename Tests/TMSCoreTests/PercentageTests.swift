import PropertyBased
import Testing
@testable import TMSCore

@Suite struct PercentageTests {
    @Test(arguments: [
        ("80", 8_000), ("80%", 8_000), ("12.5", 1_250), ("12.50", 1_250), ("0", 0), ("100", 10_000),
        ("0.01", 1), ("7.25%", 725),
    ])
    func parsesExactly(text: String, basisPoints: Int) {
        #expect(Percentage(parsing: text)?.basisPoints == basisPoints)
    }

    @Test(arguments: ["", "%", "100.01", "101", "-1", "1.234", "1.", ".5", "1e2", "12,5", " 80", "8O"])
    func rejectsMalformed(text: String) {
        #expect(Percentage(parsing: text) == nil)
    }

    @Test func ofRoundsDown() {
        #expect(Percentage(80)!.of(100) == 80)
        #expect(Percentage(80)!.of(9) == 7)      // 7.2
        #expect(Percentage(10)!.of(23) == 2)     // 2.3
        #expect(Percentage(parsing: "33.33")!.of(3) == 0)  // 0.9999
        #expect(Percentage.hundred.of(Int.max) == Int.max)
    }

    @Test func ofMatchesWideArithmetic() async {
        await propertyCheck(input: Gen.int(in: 0...10_000), Gen.int(in: 0...Int.max)) { bp, value in
            let percentage = Percentage(basisPoints: bp)!
            let wide = value.multipliedFullWidth(by: bp)
            let expected = 10_000.dividingFullWidth(wide).quotient
            #expect(percentage.of(value) == expected)
            let rounded = percentage.ofRoundingUp(value)
            #expect(rounded == expected || rounded == expected + 1)
            #expect((rounded == expected) == (10_000.dividingFullWidth(wide).remainder == 0))
        }
    }

    @Test func describesItself() {
        #expect(Percentage(80)!.description == "80%")
        #expect(Percentage(parsing: "12.5")!.description == "12.5%")
        #expect(Percentage(parsing: "0.05")!.description == "0.05%")
        #expect(Percentage(basisPoints: 10_001) == nil)
        #expect(Percentage(101) == nil)
    }
}
