/// Parsing of non-negative decimal numbers into an exact fixed-point integer, used for
/// percentages and trace times so that no floating-point rounding enters the pool maths.
enum ExactDecimal {
    /// Parses `digits[.digits]` into `value * 10^fractionDigits`.
    /// Returns `nil` for signs, exponents, empty parts, too many decimals or overflow.
    static func parse(_ text: Substring, fractionDigits: Int) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let wholePart = parts.first, !wholePart.isEmpty, wholePart.allSatisfy(\.isASCIIDigit)
        else { return nil }
        let fractionPart = parts.count == 2 ? parts[1] : ""
        if parts.count == 2 && fractionPart.isEmpty { return nil }
        guard fractionPart.count <= fractionDigits, fractionPart.allSatisfy(\.isASCIIDigit) else { return nil }

        var result = 0
        for character in wholePart {
            guard let next = appendDigit(result, character) else { return nil }
            result = next
        }
        let padded = fractionPart + String(repeating: "0", count: fractionDigits - fractionPart.count)
        for character in padded {
            guard let next = appendDigit(result, character) else { return nil }
            result = next
        }
        return result
    }

    private static func appendDigit(_ value: Int, _ digit: Character) -> Int? {
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(Int(digit.asciiValue! - 48))
        return o1 || o2 ? nil : sum
    }
}

extension Character {
    var isASCIIDigit: Bool { asciiValue.map { (48...57).contains($0) } ?? false }
}
