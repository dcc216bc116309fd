import TMSCore

/// A vServer's spillover (SPEC.md §1.1): the resource and its limit, the pool percentages,
/// the thresholds, the backup, the end-of-chain redirect, persistence and the wait queue.
public struct SpilloverConfig: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A fixed connection limit (`limit`).
        case connection
        /// The connection limit is the sum of the capacities of the services that are up.
        case dynamic
        /// Bytes per second (`bytesPerSecond`); new connections spill while the budget of the
        /// current interval is used up. Connections are limited as with `dynamic`.
        case bandwidth
    }

    public var kind: Kind
    /// The connection limit of `.connection`.
    public var limit: Int?
    /// The bandwidth limit of `.bandwidth`.
    public var bytesPerSecond: Int?
    /// The bandwidth refill interval.
    public var bandwidthInterval: Duration
    public var exclusivePercent: Percentage
    public var batchPercent: Percentage
    public var t1: Threshold
    public var t2: Threshold
    /// The vServer (of this traffic manager) that takes new connections while this one spills.
    public var backup: String?
    /// Where HTTP clients are sent when the whole chain is full (used when this vServer ends a chain).
    public var redirect: String?
    /// A client sent to a backup keeps going there this long.
    public var persistence: Duration?
    /// Requests that find no quota wait (at most `size`, each at most `timeout`) instead of
    /// being refused.
    public var queue: QueueConfig?

    public struct QueueConfig: Sendable, Hashable {
        public var size: Int
        public var timeout: Duration

        public init(size: Int, timeout: Duration) {
            self.size = size
            self.timeout = timeout
        }
    }

    public init(kind: Kind = .dynamic, limit: Int? = nil, bytesPerSecond: Int? = nil,
                bandwidthInterval: Duration = .milliseconds(100),
                exclusivePercent: Percentage = PoolConfig.defaultExclusivePercent,
                batchPercent: Percentage = PoolConfig.defaultBatchPercent,
                t1: Threshold = .percent(.hundred), t2: Threshold = .absolute(0),
                backup: String? = nil, redirect: String? = nil, persistence: Duration? = nil,
                queue: QueueConfig? = nil) {
        self.kind = kind
        self.limit = limit
        self.bytesPerSecond = bytesPerSecond
        self.bandwidthInterval = bandwidthInterval
        self.exclusivePercent = exclusivePercent
        self.batchPercent = batchPercent
        self.t1 = t1
        self.t2 = t2
        self.backup = backup
        self.redirect = redirect
        self.persistence = persistence
        self.queue = queue
    }

    /// The connection pool configuration for `cores` cores, given the dynamic limit (the sum
    /// of the capacities of the services up) for the kinds that use it.
    public func poolConfig(cores: Int, dynamicLimit: Int) -> PoolConfig {
        PoolConfig(limit: kind == .connection ? (limit ?? 0) : dynamicLimit, cores: cores,
                   exclusivePercent: exclusivePercent, batchPercent: batchPercent, t1: t1, t2: t2)
    }

    public var queuePolicy: QueuePolicy {
        guard let queue else { return .refuse }
        return .wait(capacity: queue.size, timeout: queue.timeout)
    }
}
