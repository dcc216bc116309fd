/// One core's use of a `BandwidthPool`. Owned by one core (one thread or event loop): it
/// keeps the core's interval, bytes used and bytes borrowed in plain fields; only borrowing
/// touches shared state.
public struct BandwidthMeter {
    public let pool: BandwidthPool
    public let core: Int
    /// The interval the numbers below belong to.
    public private(set) var epoch = 0
    /// Bytes granted in `epoch`.
    public private(set) var used = 0
    /// Bytes borrowed from the shared pool in `epoch`.
    public private(set) var held = 0

    init(pool: BandwidthPool, core: Int) {
        self.pool = pool
        self.core = core
    }

    /// Asks to send `bytes` at `now`; returns how many may be sent now (0 ... bytes). The
    /// rest must wait for a later interval. Within the exclusive budget plus what the core
    /// holds this touches no shared state; beyond, it borrows as many whole batches as
    /// cover the request (or as the shared pool has) in one atomic exchange.
    public mutating func consume(_ bytes: Int, now: Duration) -> Int {
        precondition(bytes >= 0, "negative byte count")
        let current = pool.epoch(at: now)
        if current > epoch {
            // A new interval: the whole budget refilled; what was held belonged to the old one.
            epoch = current
            used = 0
            held = 0
        }
        var room = pool.sizing.perCoreExclusive + held - used
        if bytes > room {
            let batch = pool.sizing.batch
            let batches = (bytes - room + batch - 1) / batch
            let taken = pool.borrow(batches: batches, epoch: epoch)
            if taken > 0 {
                held += taken
                room += taken
                pool.count(.borrowedBatches, core: core, taken / batch)
            }
        }
        let granted = min(bytes, max(0, room))
        used += granted
        pool.count(.granted, core: core, granted)
        pool.count(.denied, core: core, bytes - granted)
        return granted
    }
}

@available(*, unavailable, message: "a BandwidthMeter belongs to one core")
extension BandwidthMeter: Sendable {}
