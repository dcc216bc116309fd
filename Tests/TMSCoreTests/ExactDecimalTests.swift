import Testing
@testable import TMSCore

@Suite struct ExactDecimalTests {
    @Test func scalesToFixedPoint() {
        #expect(ExactDecimal.parse("1.5", fractionDigits: 9) == 1_500_000_000)
        #expect(ExactDecimal.parse("0.000000001", fractionDigits: 9) == 1)
        #expect(ExactDecimal.parse("12", fractionDigits: 2) == 1_200)
    }

    @Test func rejectsWhatIsNotAPlainDecimal() {
        for text in ["", ".", "1.", ".1", "-1", "+1", "1e3", "1.2.3", "0.0000000001", "99999999999999999999", "١"] {
            #expect(ExactDecimal.parse(Substring(text), fractionDigits: 9) == nil, "\(text)")
        }
    }
}
