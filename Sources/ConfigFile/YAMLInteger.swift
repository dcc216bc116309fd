/// A whole number as a configuration file writes it, parsed without trapping: a value
/// beyond `Int` is `.outOfRange`, which readers report as a range error.
///
/// Yams' own `Int.construct` traps when a sexagesimal value (`1:0:0:0:0:0:0:0:0:0:0:0`)
/// overflows, so readers parse with this instead.
package enum YAMLInteger: Sendable, Hashable {
    case value(Int)
    /// Written as a whole number, but beyond `Int.min...Int.max`.
    case outOfRange
    case notAnInteger

    /// Decimal digits with an optional sign (`42`, `-7`, `+3`): the traffic manager's
    /// configuration and the image manifests.
    package init(decimal text: String) {
        let digits = text.first == "-" || text.first == "+" ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            self = .notAnInteger
            return
        }
        self = Int(text).map(Self.value) ?? .outOfRange
    }

    /// The forms YAML 1.1 (and so Yams' resolver, and the policies) calls `int`, read as
    /// Yams reads them: `_` separators, `0b` binary, `0x` hexadecimal, `0o` or a leading `0`
    /// for octal, and sexagesimal `1:30` (= 90).
    package init(yaml11 text: String) {
        let cleaned = text.replacingOccurrences(of: "_", with: "")
        let negative = cleaned.hasPrefix("-")
        let unsigned = cleaned.hasPrefix("-") || cleaned.hasPrefix("+") ? cleaned.dropFirst() : Substring(cleaned)
        let sign = negative ? "-" : ""
        for (prefix, radix) in [("0x", 16), ("0b", 2), ("0o", 8), ("0", 8)] where unsigned.hasPrefix(prefix) {
            let digits = unsigned.dropFirst(prefix.count)
            if digits.isEmpty {
                self = prefix == "0" ? .value(0) : .notAnInteger
            } else {
                self = Self(digits: digits, radix: radix, sign: sign)
            }
            return
        }
        if unsigned.contains(":") {
            self = Self(sexagesimal: unsigned, negative: negative)
            return
        }
        self = Self(digits: unsigned, radix: 10, sign: sign)
    }

    private init(digits: Substring, radix: Int, sign: String) {
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.hexDigitValue.map { $0 < radix } == true }) else {
            self = .notAnInteger
            return
        }
        self = Int(sign + digits, radix: radix).map(Self.value) ?? .outOfRange
    }

    /// `a:b:c` = `(a * 60 + b) * 60 + c`.
    private init(sexagesimal text: Substring, negative: Bool) {
        var total = 0
        for part in text.split(separator: ":", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                self = .notAnInteger
                return
            }
            guard let digit = Int(part) else {
                self = .outOfRange
                return
            }
            let (shifted, overflow) = total.multipliedReportingOverflow(by: 60)
            let (sum, overflowAgain) = shifted.addingReportingOverflow(digit)
            guard !overflow, !overflowAgain else {
                self = .outOfRange
                return
            }
            total = sum
        }
        self = .value(negative ? -total : total)
    }
}
