/// Whether a vServer lets requests wait for quota, and for how long.
public enum QueuePolicy: Sendable, Hashable {
    case refuse
    /// A bounded FIFO queue: at most `capacity` waiting requests, each for at most `timeout`.
    case wait(capacity: Int, timeout: Duration)
}

/// One request waiting in a vServer's queue: the core it arrived on (it is admitted there)
/// and the caller's ticket that identifies it.
public struct Waiter: Sendable, Hashable, CustomStringConvertible {
    public let core: Int
    public let ticket: UInt64

    public init(core: Int, ticket: UInt64) {
        self.core = core
        self.ticket = ticket
    }

    public var description: String { "waiter \(ticket)@core\(core)" }
}

/// A waiter that has been admitted on its core on the caller's behalf.
public struct ServedWaiter: Sendable, Hashable {
    public let waiter: Waiter
    public let source: AdmissionSource
}

/// What happened to waiting requests during a call: those now admitted (their uses are
/// already counted on their cores; resume them) and those whose time ran out.
public struct WaiterUpdate: Sendable, Hashable {
    /// Empty in the common case: then no storage is allocated and passing the value around
    /// involves no reference counting (this is on every release's path).
    @usableFromInline let storage: Storage?

    @usableFromInline
    final class Storage: Sendable {
        let served: [ServedWaiter]
        let expired: [Waiter]

        init(served: [ServedWaiter], expired: [Waiter]) {
            self.served = served
            self.expired = expired
        }
    }

    /// None: what almost every release answers (inlined there, it costs nothing).
    @inlinable public init() { storage = nil }

    public init(served: [ServedWaiter], expired: [Waiter] = []) {
        storage = served.isEmpty && expired.isEmpty ? nil : Storage(served: served, expired: expired)
    }

    /// Waiters admitted on their cores, in queue order.
    public var served: [ServedWaiter] { storage?.served ?? [] }
    /// Waiters whose time ran out, in queue order.
    public var expired: [Waiter] { storage?.expired ?? [] }
    public var isEmpty: Bool { storage == nil }

    public static func == (lhs: WaiterUpdate, rhs: WaiterUpdate) -> Bool {
        lhs.served == rhs.served && lhs.expired == rhs.expired
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(served)
        hasher.combine(expired)
    }
}
