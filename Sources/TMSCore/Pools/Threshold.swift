/// A spillover threshold: an absolute number of uses, or a percentage of a base number
/// (T1: of the per-core exclusive number; T2: of the shared pool).
public enum Threshold: Sendable, Hashable, CustomStringConvertible {
    case absolute(Int)
    case percent(Percentage)

    /// The threshold as a number of uses for `base`. A percentage rounds down
    /// (80 % of 9 is 7), so spillover is considered no later than the exact value.
    public func resolve(against base: Int) -> Int {
        switch self {
        case .absolute(let value): return value
        case .percent(let percentage): return percentage.of(base)
        }
    }

    public var description: String {
        switch self {
        case .absolute(let value): return "\(value)"
        case .percent(let percentage): return percentage.description
        }
    }
}
