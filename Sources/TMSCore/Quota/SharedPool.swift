import Atomics

/// The shared quota pool S of one vServer: a single atomic counter of the uses that no
/// core holds. Borrowing a batch is one compare-exchange loop, returning one is one
/// atomic add; neither takes a lock.
///
/// `available` is negative only after a limit decrease left the cores holding more than
/// the new shared pool (the vServer is then over its limit and admits nothing until
/// releases bring the pool back to zero or more).
public final class SharedPool: Sendable {
    private let slab = AtomicSlab(rows: 1)

    /// Creates a pool with `available` uses.
    public init(available: Int) {
        counter.store(available, ordering: .sequentiallyConsistent)
    }

    @inline(__always) private var counter: UnsafeAtomic<Int> { slab.atomic(row: 0, slot: 0) }

    /// The uses currently available (may be negative after a limit decrease).
    public var available: Int { counter.load(ordering: .sequentiallyConsistent) }

    /// Takes `amount` uses if at least that many are available; otherwise takes nothing.
    /// - Returns: whether the uses were taken.
    public func tryBorrow(_ amount: Int) -> Bool { Self.tryBorrow(amount, from: counter) }

    /// Puts back `amount` uses that a core held.
    public func giveBack(_ amount: Int) { Self.giveBack(amount, to: counter) }

    /// Moves the counter by `delta` without a lower bound: used by the publisher to re-base
    /// the pool on a new size and to move re-classified quota.
    func adjust(by delta: Int) { Self.adjust(counter, by: delta) }

    // The algorithms, on any counter (`VServerQuota` keeps its pool counter in its own slab).

    /// One compare-exchange loop; never takes the counter below zero.
    @inline(__always)
    static func tryBorrow(_ amount: Int, from counter: UnsafeAtomic<Int>) -> Bool {
        precondition(amount > 0, "borrow of \(amount) uses")
        var current = counter.load(ordering: .relaxed)
        while current >= amount {
            let (exchanged, original) = counter.weakCompareExchange(
                expected: current, desired: current &- amount, ordering: .sequentiallyConsistent)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// One atomic add.
    @inline(__always)
    static func giveBack(_ amount: Int, to counter: UnsafeAtomic<Int>) {
        precondition(amount > 0, "return of \(amount) uses")
        counter.wrappingIncrement(by: amount, ordering: .sequentiallyConsistent)
    }

    static func adjust(_ counter: UnsafeAtomic<Int>, by delta: Int) {
        if delta != 0 { counter.wrappingIncrement(by: delta, ordering: .sequentiallyConsistent) }
    }
}
