import Atomics

/// The connection quota of one vServer running on N cores: exclusive numbers per core, the
/// shared pool, batches, the wait queue and the published configuration (SPEC.md §1.1).
///
/// Thread-safety: every method may be called from any thread. The data plane calls
/// `admit`/`release` for core `c` from the event loop that owns core `c`; then an admission
/// or release within the core's quota is one atomic fetch-add on a cache line only that core
/// writes, and borrowing or returning a batch adds one atomic operation on the shared pool.
/// No lock is taken on those paths. Locks are taken only by the control plane
/// (`reconfigure`, `updateLimit`) and by the wait queue (only while requests wait).
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
    let cells: AtomicCells
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
}

// MARK: - Slab layout

/// Slots of row 1.
enum FlagSlot {
    /// 1 while a decrease is being published.
    static let publishing = 0
    /// Requests waiting (or about to wait) in the queue.
    static let waiting = 8
}

/// Fields of a core's configuration mailbox. A core's row has two mailboxes, used by
/// alternate generations, so the publisher can write generation g+1's numbers while the
/// core still works with generation g's.
enum MailboxField: Int {
    case generation = 0, exclusive, batch, t1, t2, sharedPool, limit

    static let firstSlot = 2
    static let stride = 8
}

extension VServerQuota {
    static let firstCoreRow = 2

    @inline(__always)
    var sharedCounter: UnsafeAtomic<Int> { cells.atomic(row: 0, slot: 0) }

    @inline(__always)
    func word(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: 0)
    }

    @inline(__always)
    func flag(_ slot: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: 1, slot: slot)
    }

    @inline(__always)
    func mailbox(core: Int, generation: Int, _ field: MailboxField) -> Int {
        let slot = MailboxField.firstSlot &+ (generation & 1) &* MailboxField.stride &+ field.rawValue
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
    @inline(__always)
    func bump(_ counter: CoreCounter, core: Int, remote: Bool = false) {
        if remote {
            cells.atomic(row: Self.firstCoreRow &+ core, slot: counter.remoteSlot).wrappingIncrement(ordering: .relaxed)
        } else {
            let slot = cells.atomic(row: Self.firstCoreRow &+ core, slot: counter.rawValue)
            slot.store(slot.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        }
    }

    @inline(__always)
    func checkCore(_ core: Int) {
        precondition(core >= 0 && core < cores, "core \(core) out of range 0..<\(cores)")
    }
}
