import Synchronization

/// What one task (a vServer's balancing, a monitor) counts on one core.
///
/// Single writer: only the event loop of the core (for a monitor: the control loop) writes,
/// with a plain atomic load and store (no read-modify-write on the hot path); any thread may
/// read. Values are monotonic counters except where noted.
public final class CoreTaskCounters: Sendable {
    /// Connections accepted for the task (for a monitor: probes started).
    let opened = Atomic<Int>(0)
    /// Connections that ended (for a monitor: probes finished). Active = opened - closed.
    let closed = Atomic<Int>(0)
    /// Bytes read from clients (for a monitor: read from services).
    let bytesIn = Atomic<Int>(0)
    /// Bytes read from services and sent on to clients (for a monitor: probe bytes sent).
    let bytesOut = Atomic<Int>(0)
    /// New connections this vServer sent on down its backup chain.
    let spills = Atomic<Int>(0)
    /// Connections refused or redirected because the whole chain was full.
    let refusals = Atomic<Int>(0)
    /// Backend connection attempts that failed (each retried on another service when one is left).
    let connectFailures = Atomic<Int>(0)
    /// Nanoseconds the core's loop spent in this task's handlers.
    let busyNanos = Atomic<Int>(0)
    /// Connections that waited in the quota queue.
    let queued = Atomic<Int>(0)
    /// Bytes written to disk (the access log's file and spool).
    let diskBytes = Atomic<Int>(0)
    /// CPU nanoseconds of a task's own thread (the access log's writer), counted by it.
    let threadNanos = Atomic<Int>(0)
    // Keep neighbouring cores' counters off this cache line.
    private let padding = (0, 0, 0, 0, 0)

    public init() {}

    /// The current values (not a consistent snapshot while the core is busy).
    public var snapshot: TaskCounterSnapshot {
        TaskCounterSnapshot(
            opened: opened.load(ordering: .relaxed), closed: closed.load(ordering: .relaxed),
            bytesIn: bytesIn.load(ordering: .relaxed), bytesOut: bytesOut.load(ordering: .relaxed),
            spills: spills.load(ordering: .relaxed), refusals: refusals.load(ordering: .relaxed),
            connectFailures: connectFailures.load(ordering: .relaxed), busyNanos: busyNanos.load(ordering: .relaxed),
            queued: queued.load(ordering: .relaxed), diskBytes: diskBytes.load(ordering: .relaxed),
            threadNanos: threadNanos.load(ordering: .relaxed))
    }

    /// Adds to the counters of a task that runs on a thread of its own (single writer: that
    /// thread): `records` as opened and closed at once, bytes written to disk, CPU time.
    func add(records: Int, diskBytes: Int, threadNanos: Int) {
        opened.store(opened.load(ordering: .relaxed) + records, ordering: .relaxed)
        closed.store(closed.load(ordering: .relaxed) + records, ordering: .relaxed)
        self.diskBytes.store(self.diskBytes.load(ordering: .relaxed) + diskBytes, ordering: .relaxed)
        self.threadNanos.store(self.threadNanos.load(ordering: .relaxed) + threadNanos, ordering: .relaxed)
    }
}

/// A task's counters summed over cores, at one moment.
public struct TaskCounterSnapshot: Sendable, Hashable, Codable {
    public var opened = 0
    public var closed = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var spills = 0
    public var refusals = 0
    public var connectFailures = 0
    public var busyNanos = 0
    public var queued = 0
    public var diskBytes = 0
    public var threadNanos = 0

    public init(opened: Int = 0, closed: Int = 0, bytesIn: Int = 0, bytesOut: Int = 0, spills: Int = 0,
                refusals: Int = 0, connectFailures: Int = 0, busyNanos: Int = 0, queued: Int = 0,
                diskBytes: Int = 0, threadNanos: Int = 0) {
        self.opened = opened
        self.closed = closed
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.spills = spills
        self.refusals = refusals
        self.connectFailures = connectFailures
        self.busyNanos = busyNanos
        self.queued = queued
        self.diskBytes = diskBytes
        self.threadNanos = threadNanos
    }

    public var active: Int { max(0, opened - closed) }

    public static func + (lhs: Self, rhs: Self) -> Self {
        Self(opened: lhs.opened + rhs.opened, closed: lhs.closed + rhs.closed, bytesIn: lhs.bytesIn + rhs.bytesIn,
             bytesOut: lhs.bytesOut + rhs.bytesOut, spills: lhs.spills + rhs.spills, refusals: lhs.refusals + rhs.refusals,
             connectFailures: lhs.connectFailures + rhs.connectFailures, busyNanos: lhs.busyNanos + rhs.busyNanos,
             queued: lhs.queued + rhs.queued, diskBytes: lhs.diskBytes + rhs.diskBytes,
             threadNanos: lhs.threadNanos + rhs.threadNanos)
    }
}

/// A task of the traffic manager and its counters, one cell per core it runs on.
public final class TaskUsage: Sendable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case vserver, monitor
        /// The access log's writer (`accesslog`): its records count as connections opened
        /// and closed at once, its file and spool writes as disk bytes, its thread's CPU.
        case accessLog = "accesslog"
        /// The tables a session store holds (`sessionstore`: spillover persistence and
        /// stickiness, local or shared): pins held count as connections open, pins made or
        /// moved as connections opened (`connectionsPerSecond` is writes/s).
        case sessionStore = "sessionstore"
    }

    /// Unique among the traffic manager's tasks: `vserver/NAME`, `monitor/NAME`, `accesslog` or
    /// `sessionstore`.
    public let name: String
    /// The name the orchestrator's policies use for the task (several tasks may share one).
    public let task: String
    public let kind: Kind
    /// Index = core (for a monitor: one cell, the control loop).
    public let cells: [CoreTaskCounters]
    /// Which loop each cell's busy time belongs to: a core index, or -1 for the control loop.
    public let cellLoops: [Int]

    public init(name: String, task: String, kind: Kind, cellLoops: [Int]) {
        self.name = name
        self.task = task
        self.kind = kind
        self.cellLoops = cellLoops
        cells = cellLoops.map { _ in CoreTaskCounters() }
    }

    /// A task that runs on a thread of its own, not on the event loops: one cell, whose
    /// thread counts its own CPU time (``CoreTaskCounters/add(records:diskBytes:threadNanos:)``).
    public init(name: String, task: String, kind: Kind, ownThread: Void) {
        self.name = name
        self.task = task
        self.kind = kind
        cellLoops = []
        cells = [CoreTaskCounters()]
    }

    public var snapshot: TaskCounterSnapshot { cells.reduce(TaskCounterSnapshot()) { $0 + $1.snapshot } }
}
