import Atomics

/// Bandwidth as a second resource kind with the same pool arithmetic (SPEC.md §1.1): a
/// budget of bytes per interval (the limit in bytes/s times the interval) split into
/// per-core exclusive budgets and a shared pool lent in batches. Every interval the whole
/// budget refills. Time is passed in by the caller; nothing here reads a clock.
///
/// The shared pool is one atomic word holding the interval it belongs to and the bytes
/// left, so a borrow is one compare-exchange loop and the first borrow in a new interval
/// refills the pool in the same exchange — no refill step, no lock.
///
/// Guarantee: within one interval, the bytes granted on all cores together never exceed
/// the interval's budget (each core: its exclusive budget plus the batches it borrowed in
/// that interval; all borrows of an interval come from one refill of S).
public final class BandwidthPool: Sendable {
    /// Numbers per interval: `limit` is the interval's budget in bytes.
    public let sizing: PoolSizing
    public let interval: Duration
    public let bytesPerSecond: Int

    /// Row 0: the shared word; rows 1...N: per-core counters.
    let slab: AtomicSlab

    static let availableBits = 40
    static let availableMask = (1 << availableBits) - 1
    static let epochMask = (1 << 23) - 1
    /// The largest budget per interval (about 1 TB).
    public static let maximumBudget = availableMask

    /// - Parameters:
    ///   - bytesPerSecond: the bandwidth limit.
    ///   - interval: the refill period (e.g. 100 ms).
    /// - Throws: `PoolConfigError` for a negative limit, no cores or a budget too large.
    public init(bytesPerSecond: Int, interval: Duration, cores: Int,
                exclusivePercent: Percentage = PoolConfig.defaultExclusivePercent,
                batchPercent: Percentage = PoolConfig.defaultBatchPercent) throws(PoolConfigError) {
        precondition(interval > .zero, "bandwidth interval must be positive")
        guard bytesPerSecond >= 0 else { throw .negativeLimit(bytesPerSecond) }
        let budget = Self.budget(bytesPerSecond: bytesPerSecond, interval: interval)
        guard budget <= Self.maximumBudget else { throw .limitTooLarge(budget, maximum: Self.maximumBudget) }
        sizing = try PoolSizing(PoolConfig(limit: budget, cores: cores, exclusivePercent: exclusivePercent,
                                           batchPercent: batchPercent))
        self.interval = interval
        self.bytesPerSecond = bytesPerSecond
        slab = AtomicSlab(rows: 1 + cores)
        // Interval 0 starts full.
        sharedWord.store(Self.encode(epoch: 0, available: sizing.sharedPool), ordering: .sequentiallyConsistent)
    }

    /// floor(bytesPerSecond * interval), exact (saturating on absurd values).
    static func budget(bytesPerSecond: Int, interval: Duration) -> Int {
        let nanos = interval.nanoseconds
        let product = bytesPerSecond.multipliedFullWidth(by: nanos)
        guard product.high < 1_000_000_000 / 2 else { return .max }
        return 1_000_000_000.dividingFullWidth(product).quotient
    }

    /// The interval `now` falls in.
    public func epoch(at now: Duration) -> Int {
        precondition(now >= .zero, "time before the origin")
        return now.nanoseconds / interval.nanoseconds
    }

    /// A meter for `core`, to be owned and used by that core only.
    public func meter(core: Int) -> BandwidthMeter {
        precondition(core >= 0 && core < sizing.cores, "core \(core) out of range")
        return BandwidthMeter(pool: self, core: core)
    }

    /// Bytes left in the shared pool for the interval of `now` (the full pool if nobody has
    /// borrowed in that interval yet).
    public func sharedAvailable(at now: Duration) -> Int {
        let (epoch, available) = Self.decode(sharedWord.load(ordering: .sequentiallyConsistent))
        let current = self.epoch(at: now) & Self.epochMask
        return epoch == current ? available : sizing.sharedPool
    }

    public func counters(core: Int) -> BandwidthCounters {
        precondition(core >= 0 && core < sizing.cores, "core \(core) out of range")
        func load(_ slot: BandwidthCounterSlot) -> Int {
            slab.atomic(row: 1 + core, slot: slot.rawValue).load(ordering: .relaxed)
        }
        return BandwidthCounters(grantedBytes: load(.granted), deniedBytes: load(.denied),
                                 borrowedBatches: load(.borrowedBatches))
    }

    // MARK: internals

    var sharedWord: UnsafeAtomic<Int> { slab.atomic(row: 0, slot: 0) }

    static func encode(epoch: Int, available: Int) -> Int {
        (epoch & epochMask) << availableBits | available
    }

    static func decode(_ word: Int) -> (epoch: Int, available: Int) {
        ((word >> availableBits) & epochMask, word & availableMask)
    }

    /// Takes up to `batches` whole batches from the pool of interval `epoch`; returns the
    /// bytes taken. A pool still on an older interval is refilled to S first (in the same
    /// exchange); a caller still on an older interval than the pool gets nothing.
    func borrow(batches: Int, epoch: Int) -> Int {
        let mine = epoch & Self.epochMask
        var current = sharedWord.load(ordering: .sequentiallyConsistent)
        while true {
            let (poolEpoch, available) = Self.decode(current)
            let available0: Int
            if poolEpoch == mine {
                available0 = available
            } else if Self.isNewer(mine, than: poolEpoch) {
                available0 = sizing.sharedPool
            } else {
                return 0
            }
            let batch = sizing.batch
            let taken = min(batches, available0 / batch) * batch
            guard taken > 0 else { return 0 }
            let (exchanged, original) = sharedWord.weakCompareExchange(
                expected: current, desired: Self.encode(epoch: mine, available: available0 - taken),
                ordering: .sequentiallyConsistent)
            if exchanged { return taken }
            current = original
        }
    }

    /// Epochs are compared modulo 2^23: `a` is newer if it is less than half the range ahead.
    static func isNewer(_ a: Int, than b: Int) -> Bool {
        let ahead = (a - b) & epochMask
        return ahead != 0 && ahead < (epochMask + 1) / 2
    }

    func count(_ slot: BandwidthCounterSlot, core: Int, _ amount: Int) {
        if amount != 0 {
            slab.atomic(row: 1 + core, slot: slot.rawValue).wrappingIncrement(by: amount, ordering: .relaxed)
        }
    }
}

enum BandwidthCounterSlot: Int {
    case granted = 0, denied, borrowedBatches
}

/// Per-core bandwidth counters, readable from any thread.
public struct BandwidthCounters: Sendable, Hashable, Codable {
    public var grantedBytes: Int
    public var deniedBytes: Int
    public var borrowedBatches: Int
}

extension Duration {
    /// Whole nanoseconds (truncated), for non-negative durations below ~292 years.
    var nanoseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
    }
}
