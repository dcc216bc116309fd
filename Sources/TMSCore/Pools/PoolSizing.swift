/// The pool numbers derived from a `PoolConfig`, exactly as SPEC.md §1.1 defines them:
///
/// - exclusive pool E = the largest multiple of N that is <= floor(p_e * L)
/// - per-core exclusive number e = E / N (0 when floor(p_e * L) < N: every use is borrowed)
/// - shared pool S = L - E
/// - batch b = max(1, floor(p_b * S))
/// - T1 and T2 resolved to numbers (T1 against e, T2 against S)
///
/// Pure value; no validation beyond what the arithmetic needs.
public struct PoolSizing: Sendable, Hashable, Codable {
    public let limit: Int
    public let cores: Int
    public let exclusivePool: Int
    public let perCoreExclusive: Int
    public let sharedPool: Int
    public let batch: Int
    /// T1 as a number of uses on one core.
    public let t1: Int
    /// T2 as a number of available uses in the shared pool.
    public let t2: Int

    /// Computes the pools. Throws for a negative limit, fewer than one core or a negative
    /// absolute threshold.
    public init(_ config: PoolConfig) throws(PoolConfigError) {
        guard config.limit >= 0 else { throw .negativeLimit(config.limit) }
        guard config.cores >= 1 else { throw .invalidCoreCount(config.cores) }
        if case .absolute(let value) = config.t1, value < 0 { throw .negativeThreshold(name: "T1", value: value) }
        if case .absolute(let value) = config.t2, value < 0 { throw .negativeThreshold(name: "T2", value: value) }

        let target = config.exclusivePercent.of(config.limit)
        let exclusivePool = target - target % config.cores
        let sharedPool = config.limit - exclusivePool
        let perCore = exclusivePool / config.cores

        self.limit = config.limit
        self.cores = config.cores
        self.exclusivePool = exclusivePool
        self.perCoreExclusive = perCore
        self.sharedPool = sharedPool
        self.batch = max(1, config.batchPercent.of(sharedPool))
        self.t1 = config.t1.resolve(against: perCore)
        self.t2 = config.t2.resolve(against: sharedPool)
    }

    /// Convenience for the defaults: `PoolSizing(limit: 100, cores: 7)`.
    public init(limit: Int, cores: Int) throws(PoolConfigError) {
        try self.init(PoolConfig(limit: limit, cores: cores))
    }
}
