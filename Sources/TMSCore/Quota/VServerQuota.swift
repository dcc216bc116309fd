import Atomics
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The connection quota of one vServer running on N cores: exclusive numbers per core, the
/// shared pool, batches, the wait queue and the published configuration (SPEC.md §1.1).
///
/// Thread-safety: every method may be called from any thread, with one rule per core: the
/// calls that admit or release on core `c` (`admit`, `admitOrWait`, `release` with
/// `core: c`) are made by one thread at a time — the data plane's contract, core `c` being
/// driven by the event loop that owns it, and the one under which the quota is exact.
///
/// Then, where the system has a process-wide barrier (`ProcessBarrier`), an admission or a
/// release within the core's quota is plain loads and stores on the core's own cache lines:
/// no locked instruction, nothing another core writes. Every other writer of a core's word
/// (a thread serving a waiter there, the publisher of a new limit) first keeps the core's
/// thread off that fast path (`intruding`): it announces itself, issues the barrier, waits
/// for an operation in progress to end, and works with atomic operations, as the core's
/// thread then does too. Without such a barrier the core's thread always uses the atomic
/// path (a compare-exchange per admission, a fetch-add per release). Borrowing or
/// returning a batch adds one atomic operation on the shared pool. No lock is taken on
/// those paths; locks are taken only by the control plane (`reconfigure`, `updateLimit`)
/// and by the wait queue (only while requests wait).
///
/// Invariants, after every operation has completed:
/// - per core: in-use <= capacity = exclusive number + held quota, held >= 0;
/// - `sharedAvailable + Σ held == sharedPool` of the current configuration;
/// - `Σ in-use <= limit`, except after a limit decrease that left more uses than the new
///   limit: then the shared pool is negative, every core is flagged, and nothing is
///   admitted until releases bring the pool back to zero or more. Existing uses are never
///   revoked.
public final class VServerQuota: Sendable {
    /// Keeps the fields every admission and release reads (`cores`, `cells`,
    /// `plainFastPath`) off the cache lines of the object's header: its reference count is
    /// written by whichever core takes or drops a strong reference (a lease per connection
    /// in the data plane), and would otherwise evict those fields from every other core.
    /// 120 bytes after the 16-byte header put them at least 128 bytes past the count, out
    /// of its line and of the adjacent line the hardware prefetches with it (stored
    /// properties are laid out in declaration order).
    private let headerPadding: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// The number of cores (fixed for the lifetime of the vServer).
    public let cores: Int
    /// Whether requests that find no quota may wait.
    public let queuePolicy: QueuePolicy

    /// Row 0: the shared pool S (its counter, alone on its lines: written by every borrow
    /// and return). Row 1: flags shared by all cores (read-mostly). Rows 2...N+1: one per core.
    let slab: AtomicSlab
    /// `slab`'s memory, stored inline so that a core reaches its word with one load less.
    let cells: AtomicCells
    /// Whether a core's own thread admits and releases with plain stores (`ProcessBarrier`
    /// available) rather than atomic operations on the core's word. Fixed for the lifetime.
    let plainFastPath: Bool
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
        plainFastPath = ProcessBarrier.isAvailable
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
                CoreWord(debt: false, generation: 0, tally: 0, capacity: sizing.perCoreExclusive).raw,
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

/// Slots of a core's row besides its mailboxes (`MailboxField`) and counters (`CoreCounter`).
enum CoreSlot {
    static let word = 0
    static let ownCount = 1
    static let busy = 20
    static let intruders = 21
}

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
        cells.atomic(row: Self.firstCoreRow &+ core, slot: CoreSlot.word)
    }

    /// The core's own count: admissions minus releases its thread made on the plain fast
    /// path, modulo 2^27 (see `CoreWord`). Written only by the core's thread, on the word's
    /// cache line.
    @inline(__always)
    func ownCount(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: CoreSlot.ownCount)
    }

    /// The uses in force on `core` for a word just loaded from it: the word's tally plus the
    /// core's own count. Exact on the core's own thread, and on any thread while `intruding`
    /// on the core; elsewhere a snapshot for monitoring.
    @inline(__always)
    func inUse(_ word: CoreWord, core: Int) -> Int {
        word.inUse(own: ownCount(core).load(ordering: .acquiring))
    }

    /// 1 while the core's thread is on its plain fast path. Written only by that thread.
    @inline(__always)
    func busy(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: CoreSlot.busy)
    }

    /// How many threads are working on the core's word with its thread kept off the plain
    /// fast path (`intruding`).
    @inline(__always)
    func intruders(_ core: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: Self.firstCoreRow &+ core, slot: CoreSlot.intruders)
    }

    /// Runs `body` with the threads of `cores` kept off their plain fast paths, so that
    /// `body` may change those cores' words with atomic operations and read their own
    /// counts exactly (the classic asymmetric handshake: the fast path pays plain stores,
    /// this side a process-wide barrier, a few microseconds).
    ///
    /// The core's thread marks itself busy, then reads the intruder count; this side raises
    /// the count, then issues the barrier, then waits until the core is not busy. After the
    /// barrier, either the core's thread sees the count and takes the atomic path, or its
    /// busy mark — stored before it read the count — is visible here and this side waits for
    /// its operation, whose stores are then visible too. Callable on a core's own thread.
    func intruding<Result>(_ cores: Range<Int>, _ body: () throws -> Result) rethrows -> Result {
        guard plainFastPath else { return try body() }
        for core in cores { intruders(core).wrappingIncrement(ordering: .sequentiallyConsistent) }
        defer { for core in cores { intruders(core).wrappingDecrement(ordering: .sequentiallyConsistent) } }
        ProcessBarrier.synchronize()
        for core in cores {
            var spins = 0
            while busy(core).load(ordering: .acquiring) != 0 {
                // A few instructions, unless the core's thread was preempted mid-operation.
                spins += 1
                if spins > 64 { sched_yield() }
            }
        }
        return try body()
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
