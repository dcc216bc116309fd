import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The connection quota of one vServer running on N cores: exclusive numbers per core, the
/// shared pool, batches, the wait queue and the published configuration (SPEC.md §1.1).
///
/// Thread-safety: the per-core calls (`admit`, `admitOrWait`, `release`,
/// `spilloverDecision` for core `c`) are made by one thread at a time per core — the core's
/// owner: the data plane calls them from the event loop that owns core `c` (`QuotaLease` is
/// bound to it). Every other method may be called from any thread. An admission or release
/// within the core's quota is then a plain load and store of the owner's own counter and a
/// load of the core's word, on a cache line only that core writes: no atomic
/// read-modify-write, no shared line. Borrowing or returning a batch adds one atomic
/// operation on the shared pool. No lock is taken on those paths. Locks are taken only by the
/// control plane (`reconfigure`, `updateLimit`) and by the wait queue (only while requests
/// wait). The few threads that must read an owner's counter exactly (a publish, a waiter
/// served on the core by another thread) freeze the core's word, which sends the owner to
/// compare-exchanges meanwhile, and pay for the memory ordering with membarrier(2)
/// (`AsymmetricFence`).
///
/// Invariants, after every operation has completed:
/// - per core: in-use <= capacity = exclusive number + held quota, held >= 0;
/// - `sharedAvailable + Σ held == sharedPool` of the current configuration;
/// - `Σ in-use <= limit`, except after a limit decrease that left more uses than the new
///   limit: then the shared pool is negative, every core is flagged, and nothing is
///   admitted until releases bring the pool back to zero or more. Existing uses are never
///   revoked.
public final class VServerQuota: Sendable {
    /// The number of cores (fixed for the lifetime of the vServer).
    public let cores: Int
    /// Whether requests that find no quota may wait.
    public let queuePolicy: QueuePolicy

    /// Row 0: the shared pool S (its counter, alone on its lines: written by every borrow
    /// and return). Row 1: flags shared by all cores (read-mostly). Rows 2...N+1: one per core.
    let slab: AtomicSlab
    /// `slab`'s memory, stored inline so that a core reaches its word with one load less.
    @usableFromInline let cells: AtomicCells
    /// How the owner's plain counter is ordered against the word (see `AsymmetricFence`).
    @usableFromInline let fence: AsymmetricFence
    let control: Locked<ControlState>
    let queue: Locked<WaitQueue<Waiter>>

    struct ControlState {
        var config: PoolConfig
        var sizing: PoolSizing
        var generation: Int
    }

    /// The largest limit a vServer quota can represent (134 152 191).
    public static let maximumLimit = CoreWord.maxField - CoreWord.headroom

    /// Creates the quota with `config` as generation 0: every core starts with its exclusive
    /// number and nothing held; the shared pool is full.
    public init(_ config: PoolConfig, queue queuePolicy: QueuePolicy = .refuse) throws(PoolConfigError) {
        let sizing = try Self.sizing(for: config)
        if case .wait(let capacity, _) = queuePolicy {
            precondition(capacity >= 0, "negative wait-queue capacity")
        }
        cores = config.cores
        self.queuePolicy = queuePolicy
        slab = AtomicSlab(rows: 2 + config.cores)
        cells = slab.cells
        fence = AsymmetricFence.shared
        control = Locked(ControlState(config: config, sizing: sizing, generation: 0))
        let (capacity, timeout): (Int, Duration) = switch queuePolicy {
        case .refuse: (0, .zero)
        case .wait(let capacity, let timeout): (capacity, timeout)
        }
        queue = Locked(WaitQueue(capacity: capacity, timeout: timeout))
        sharedCounter.store(sizing.sharedPool, ordering: .sequentiallyConsistent)
        for core in 0..<cores {
            writeMailbox(core: core, generation: 0, sizing: sizing)
            word(core).store(
                CoreWord(debt: false, generation: 0, inUse: 0, capacity: sizing.perCoreExclusive).raw,
                ordering: .sequentiallyConsistent)
        }
    }

    /// The pools for `config`, checked against what a vServer quota can represent.
    /// - Throws: `PoolConfigError` for an invalid configuration or a limit above `maximumLimit`.
    public static func sizing(for config: PoolConfig) throws(PoolConfigError) -> PoolSizing {
        let sizing = try PoolSizing(config)
        guard sizing.limit <= maximumLimit else { throw .limitTooLarge(sizing.limit, maximum: maximumLimit) }
        return sizing
    }

    /// The configuration currently published.
    public var config: PoolConfig { control.withLock { $0.config } }
    /// The pool numbers currently published.
    public var sizing: PoolSizing { control.withLock { $0.sizing } }
    /// The generation of the published configuration (0 at creation, +1 per publish).
    public var generation: Int { control.withLock { $0.generation } }
    /// The uses currently available in the shared pool (negative while over the limit).
    public var sharedAvailable: Int { sharedCounter.load(ordering: .sequentiallyConsistent) }
    /// Whether the vServer holds more than its limit after a decrease (admits nothing).
    public var isOverLimit: Bool { sharedAvailable < 0 }

    /// How the owners' fast path is ordered against the threads that read their counters
    /// (for benchmarks and diagnostics).
    public static var fastPathOrdering: String {
        AsymmetricFence.shared.expedited
            ? "membarrier(2): a compiler barrier on the owner's path, a process-wide barrier on a publish"
            : "a full fence on the owner's path (membarrier(2) is not available)"
    }
}

// MARK: - Slab layout

/// Slots of row 1.
@usableFromInline
enum FlagSlot {
    /// 1 while a decrease is being published.
    @inlinable static var publishing: Int { 0 }
    /// Requests waiting (or about to wait) in the queue.
    @inlinable static var waiting: Int { 8 }
}

/// Fields of a core's configuration mailbox. A core's row has two mailboxes, used by
/// alternate generations, so the publisher can write generation g+1's numbers while the
/// core still works with generation g's.
@usableFromInline
enum MailboxField: Int {
    case generation = 0, exclusive, batch, t1, t2, sharedPool, limit

    @inlinable static var firstSlot: Int { 2 }
    @inlinable static var stride: Int { 8 }

    /// The field's slot in a mailbox (its raw value, spelled out for inlined callers).
    @inlinable var offset: Int {
        switch self {
        case .generation: 0
        case .exclusive: 1
        case .batch: 2
        case .t1: 3
        case .t2: 4
        case .sharedPool: 5
        case .limit: 6
        }
    }
}

extension VServerQuota {
    @inlinable static var firstCoreRow: Int { 2 }

    @inline(__always)
    var sharedCounter: UnsafeAtomic<Int> { cells.atomic(row: 0, slot: 0) }

    @inlinable @inline(__always)
    func word(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: 0)
    }

    /// The uses the owner of `core` admitted on its fast path and has not released (or, as
    /// releases take from it first, a share of its uses): written by the owner only, with
    /// plain stores. The core's in-use is this plus the word's.
    @inlinable @inline(__always)
    func counter(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: 1)
    }

    /// The core's in-use as the word `state` and the owner's counter say.
    @inlinable @inline(__always)
    func inUse(_ state: CoreWord, core: Int) -> Int {
        state.inUse &+ counter(core).load(ordering: .relaxed)
    }

    /// Freezes `core`'s word so that its owner's counter holds still (the owner takes the
    /// compare-exchange path meanwhile): waits while someone else has it frozen (a publish or
    /// a waiter being served: microseconds). The caller then runs `fence.heavy()` before it
    /// reads the counter, and `unfreeze` when done.
    func freeze(_ core: Int) {
        let word = self.word(core)
        var current = word.load(ordering: .sequentiallyConsistent)
        while true {
            let state = CoreWord(raw: current)
            if state.frozen {
                sched_yield()
                current = word.load(ordering: .sequentiallyConsistent)
                continue
            }
            let (exchanged, original) = word.compareExchange(
                expected: current, desired: state.with(frozen: true).raw, ordering: .sequentiallyConsistent)
            if exchanged { return }
            current = original
        }
    }

    func unfreeze(_ core: Int) {
        let word = self.word(core)
        var current = word.load(ordering: .sequentiallyConsistent)
        while CoreWord(raw: current).frozen {
            let (exchanged, original) = word.compareExchange(
                expected: current, desired: CoreWord(raw: current).with(frozen: false).raw,
                ordering: .sequentiallyConsistent)
            current = exchanged ? CoreWord(raw: current).with(frozen: false).raw : original
        }
    }

    /// The owner's wait while another thread has its core frozen; returns the word after.
    func waitUnfrozen(_ core: Int) -> Int {
        let word = self.word(core)
        var current = word.load(ordering: .sequentiallyConsistent)
        while CoreWord(raw: current).frozen {
            sched_yield()
            current = word.load(ordering: .sequentiallyConsistent)
        }
        return current
    }

    @inlinable @inline(__always)
    func flag(_ slot: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: 1, slot: slot)
    }

    @inlinable @inline(__always)
    func mailbox(core: Int, generation: Int, _ field: MailboxField) -> Int {
        let slot = MailboxField.firstSlot &+ (generation & 1) &* MailboxField.stride &+ field.offset
        return cells.atomic(row: Self.firstCoreRow &+ core, slot: slot).load(ordering: .relaxed)
    }

    /// Whether the mailbox for `generation` (low 8 bits, as in `CoreWord`) holds that
    /// generation. Only false when the caller read a word that has since been re-classified.
    @inline(__always)
    func mailboxMatches(core: Int, generation: Int) -> Bool {
        mailbox(core: core, generation: generation, .generation) & 0xFF == generation
    }

    func writeMailbox(core: Int, generation: Int, sizing: PoolSizing) {
        let values: [(MailboxField, Int)] = [
            (.exclusive, sizing.perCoreExclusive), (.batch, sizing.batch), (.t1, sizing.t1),
            (.t2, sizing.t2), (.sharedPool, sizing.sharedPool), (.limit, sizing.limit),
            (.generation, generation),
        ]
        for (field, value) in values {
            let slot = MailboxField.firstSlot + (generation & 1) * MailboxField.stride + field.rawValue
            cells.atomic(row: Self.firstCoreRow + core, slot: slot).store(value, ordering: .relaxed)
        }
    }

    /// Counts on `core`. The core's own calls (`remote == false`) store without a
    /// read-modify-write (single writer, see `CoreCounters`); other threads increment.
    @inlinable @inline(__always)
    func bump(_ counter: CoreCounter, core: Int, remote: Bool = false) {
        if remote {
            cells.atomic(row: Self.firstCoreRow &+ core, slot: counter.slot &+ 16).wrappingIncrement(ordering: .relaxed)
        } else {
            let slot = cells.atomic(row: Self.firstCoreRow &+ core, slot: counter.slot)
            slot.store(slot.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        }
    }

    @inlinable @inline(__always)
    func checkCore(_ core: Int) {
        precondition(core >= 0 && core < cores, "core \(core) out of range 0..<\(cores)")
    }
}
