/// Numbers in reasons, explanations and diagnostics, written the same way everywhere and
/// without Foundation's `String(format:)`.
enum ReasonText {
    /// `value` with exactly `digits` decimals: `fixed(0.8734, 2)` is `0.87`.
    static func fixed(_ value: Float, _ digits: Int) -> String {
        fixed(Double(value), digits)
    }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let negative = value < 0 && scaled > 0
        let whole = (scaled / scale).rounded(.down)
        var text = String(Int(whole))
        if digits > 0 {
            let fraction = String(Int(scaled - whole * scale))
            text += "." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        }
        return negative ? "-" + text : text
    }

    /// A number as a person writes it: `300` rather than `300.0`, `0.5` as is.
    static func plain(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    /// A measured figure: whole above 100, one decimal above 1, three below.
    static func number(_ value: Double, _ digits: Int? = nil) -> String {
        if let digits { return fixed(value, digits) }
        let magnitude = abs(value)
        if magnitude >= 100 || value == value.rounded() { return fixed(value, 0) }
        if magnitude >= 1 { return fixed(value, 1) }
        return fixed(value, 3)
    }

    /// A trend with its sign: `+0.40`, `-12`.
    static func signed(_ value: Double) -> String {
        (value >= 0 ? "+" : "") + number(value, abs(value) >= 10 ? 0 : 2)
    }

    /// A load fraction as a percentage: `0.873` is `87%`.
    static func percent(_ fraction: Double) -> String {
        "\(fixed(fraction * 100, 0))%"
    }
}
