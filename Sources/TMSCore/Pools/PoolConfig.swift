/// What an operator configures for one resource of one vServer: the spillover limit L,
/// the number of cores N, the two percentages and the two spillover thresholds.
///
/// Defaults follow SPEC.md §1.1: 80 % exclusive, 10 % batch, T1 = the exclusive number,
/// T2 = 0.
public struct PoolConfig: Sendable, Hashable {
    /// The spillover limit L (connections, or bytes per interval for bandwidth).
    public var limit: Int
    /// The number of cores N the vServer runs on.
    public var cores: Int
    /// p_e: the share of L that becomes the exclusive pool (before rounding to a multiple of N).
    public var exclusivePercent: Percentage
    /// p_b: the share of the shared pool lent per borrow (at least 1).
    public var batchPercent: Percentage
    /// T1: in-use count per core from which spillover is considered
    /// (absolute, or a percentage of the per-core exclusive number).
    public var t1: Threshold
    /// T2: the shared pool's availability at or below which spillover happens
    /// (absolute, or a percentage of the shared pool).
    public var t2: Threshold

    public static let defaultExclusivePercent = Percentage(80)!
    public static let defaultBatchPercent = Percentage(10)!

    public init(
        limit: Int,
        cores: Int,
        exclusivePercent: Percentage = PoolConfig.defaultExclusivePercent,
        batchPercent: Percentage = PoolConfig.defaultBatchPercent,
        t1: Threshold = .percent(.hundred),
        t2: Threshold = .absolute(0)
    ) {
        self.limit = limit
        self.cores = cores
        self.exclusivePercent = exclusivePercent
        self.batchPercent = batchPercent
        self.t1 = t1
        self.t2 = t2
    }
}

/// A configuration that cannot be turned into pools. Each case describes itself in one line.
public enum PoolConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    case negativeLimit(Int)
    case limitTooLarge(Int, maximum: Int)
    case invalidCoreCount(Int)
    case coreCountMismatch(expected: Int, got: Int)
    case negativeThreshold(name: String, value: Int)

    public var description: String {
        switch self {
        case .negativeLimit(let limit):
            return "the limit must be 0 or more (got \(limit))"
        case .limitTooLarge(let limit, let maximum):
            return "the limit \(limit) is larger than the supported maximum \(maximum)"
        case .invalidCoreCount(let cores):
            return "the core count must be 1 or more (got \(cores))"
        case .coreCountMismatch(let expected, let got):
            return "the core count of a running vServer cannot change (has \(expected), got \(got))"
        case .negativeThreshold(let name, let value):
            return "threshold \(name) must be 0 or more (got \(value))"
        }
    }
}
