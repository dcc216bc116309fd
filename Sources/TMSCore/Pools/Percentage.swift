/// An exact percentage with two decimal places, stored in basis points (1 % = 100).
///
/// Pool arithmetic such as `floor(p * L)` is done in integers, so `80 %` of `100` is exactly
/// `80` and never `79.99999`.
public struct Percentage: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The percentage in hundredths of a percent, `0 ... 10_000`.
    public let basisPoints: Int

    /// Creates a percentage from basis points; `nil` outside `0 ... 10_000`.
    public init?(basisPoints: Int) {
        guard (0...10_000).contains(basisPoints) else { return nil }
        self.basisPoints = basisPoints
    }

    /// Creates a whole percentage; `nil` outside `0 ... 100`.
    public init?(_ percent: Int) {
        guard (0...100).contains(percent) else { return nil }
        self.basisPoints = percent * 100
    }

    /// Parses `"80"`, `"12.5"`, `"12.50"` or `"80%"`: at most two decimals, `0 ... 100`.
    /// Returns `nil` for anything else.
    public init?(parsing text: String) {
        var body = Substring(text)
        if body.hasSuffix("%") { body = body.dropLast() }
        guard let hundredths = ExactDecimal.parse(body, fractionDigits: 2),
              let value = Percentage(basisPoints: hundredths) else { return nil }
        self = value
    }

    public static let zero = Percentage(basisPoints: 0)!
    public static let hundred = Percentage(basisPoints: 10_000)!

    /// `floor(self * value)` for a non-negative `value`, exact and without overflow.
    public func of(_ value: Int) -> Int {
        precondition(value >= 0, "percentage of a negative value")
        // Split so that no intermediate product can overflow for any Int value.
        let whole = value / 10_000, rest = value % 10_000
        return whole * basisPoints + rest * basisPoints / 10_000
    }

    /// `ceil(self * value)` for a non-negative `value`.
    public func ofRoundingUp(_ value: Int) -> Int {
        let down = of(value)
        let rest = value % 10_000
        return (rest * basisPoints) % 10_000 == 0 ? down : down + 1
    }

    public static func < (lhs: Percentage, rhs: Percentage) -> Bool { lhs.basisPoints < rhs.basisPoints }

    public var description: String {
        let whole = basisPoints / 100, fraction = basisPoints % 100
        if fraction == 0 { return "\(whole)%" }
        if fraction % 10 == 0 { return "\(whole).\(fraction / 10)%" }
        return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
    }
}
