/// Monotonic usage counters of one core of one vServer, for usage monitoring. Each is kept
/// in atomics, so another thread can read them at any time (the set of values read together
/// is not a consistent snapshot while the core is busy).
///
/// To keep the fast path at one atomic read-modify-write, what a core counts for its own
/// calls is written with a plain atomic store (single writer); what other threads count for
/// it (waiters they serve on it, expiries) uses atomic increments. The counts are therefore
/// exact when each core is driven by one thread at a time — the data plane's contract, one
/// core per event loop — and may miss increments if two threads call for the same core
/// concurrently (the quota itself stays exact in every case).
public struct CoreCounters: Sendable, Hashable, Codable {
    /// Uses admitted (directly or by serving a waiter).
    public var admitted = 0
    /// Batches borrowed from the shared pool.
    public var borrowedBatches = 0
    /// Returns of quota to the shared pool on release.
    public var returnedBatches = 0
    /// Uses released.
    public var released = 0
    /// Requests the spillover rule sent to a backup.
    public var spilled = 0
    /// Requests put in the wait queue.
    public var queued = 0
    /// Queued requests later admitted.
    public var served = 0
    /// Requests refused (no quota and no queue, queue full).
    public var refused = 0
    /// Queued requests whose wait timed out.
    public var expired = 0

    public init() {}

    static func + (lhs: CoreCounters, rhs: CoreCounters) -> CoreCounters {
        var sum = CoreCounters()
        for counter in CoreCounter.allCases { sum[counter] = lhs[counter] + rhs[counter] }
        return sum
    }

    subscript(counter: CoreCounter) -> Int {
        get {
            switch counter {
            case .admitted: return admitted
            case .borrowedBatches: return borrowedBatches
            case .returnedBatches: return returnedBatches
            case .released: return released
            case .spilled: return spilled
            case .queued: return queued
            case .served: return served
            case .refused: return refused
            case .expired: return expired
            }
        }
        set {
            switch counter {
            case .admitted: admitted = newValue
            case .borrowedBatches: borrowedBatches = newValue
            case .returnedBatches: returnedBatches = newValue
            case .released: released = newValue
            case .spilled: spilled = newValue
            case .queued: queued = newValue
            case .served: served = newValue
            case .refused: refused = newValue
            case .expired: expired = newValue
            }
        }
    }
}

/// The counters as slots of a core's row in the atomic slab: `rawValue` for the count the
/// core's own thread keeps, `remoteSlot` for the count other threads keep for it.
@usableFromInline
enum CoreCounter: Int, CaseIterable {
    case admitted = 24, borrowedBatches, returnedBatches, released, spilled, queued, served, refused, expired

    var remoteSlot: Int { rawValue + 16 }

    /// `rawValue`, spelled out for inlined callers.
    @inlinable var slot: Int {
        switch self {
        case .admitted: 24
        case .borrowedBatches: 25
        case .returnedBatches: 26
        case .released: 27
        case .spilled: 28
        case .queued: 29
        case .served: 30
        case .refused: 31
        case .expired: 32
        }
    }
}
