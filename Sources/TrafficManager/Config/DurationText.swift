/// Durations as written in configuration files: `250ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare
/// number of seconds. Parsed exactly (decimal digits, no floating point), to the millisecond.
public enum DurationText {
    /// The duration `text` denotes, or `nil` if it is not one (negative values are not).
    public static func parse(_ text: String) -> Duration? {
        let units: [(String, Int)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        var body = Substring(text.trimmingCharacters())
        var millisPerUnit = 1_000
        for (suffix, millis) in units where body.hasSuffix(suffix) {
            body = body.dropLast(suffix.count)
            millisPerUnit = millis
            break
        }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigitCharacter),
              let wholeValue = Int(whole), wholeValue <= 10_000_000 else { return nil }
        var millis = wholeValue * millisPerUnit
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 6, fraction.allSatisfy(\.isASCIIDigitCharacter) else { return nil }
            let scale = (0..<fraction.count).reduce(1) { value, _ in value * 10 }
            millis += Int(fraction)! * millisPerUnit / scale
        }
        return .milliseconds(millis)
    }

    /// `250ms`, `2s`, `1.5s`: the shortest exact rendering (milliseconds precision).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        if millis % 1_000 == 0 { return "\(millis / 1_000)s" }
        if millis < 1_000 { return "\(millis)ms" }
        var fraction = String(millis % 1_000)
        fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(millis / 1_000).\(fraction)s"
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { asciiValue.map { (48...57).contains($0) } ?? false }
}

extension String {
    func trimmingCharacters() -> String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}

extension Duration {
    /// Seconds as a floating-point number (for reporting and averaging only).
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// Whole nanoseconds (truncated); for non-negative durations below ~292 years.
    var totalNanoseconds: Int64 {
        let (whole, attoseconds) = components
        return whole * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
