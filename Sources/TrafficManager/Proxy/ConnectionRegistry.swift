/// A client connection a core sweeps: a relayed connection (`ProxyConnection`) or an HTTP
/// session routed per request (`HTTPSession`). Loop-bound.
protocol LiveConnection: AnyObject {
    /// Whether the core's sweep should close this connection now (idle, drained, shut down).
    func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool
    func close()
}

/// Why a core's sweep closes a connection.
enum CloseReason {
    /// The traffic manager shuts down and its drain time is over.
    case shutdown
    /// A reload removed the connection's vServer and its drain time is over.
    case drained
    /// No byte either way for the vServer's idle timeout.
    case idle
}

extension VServerRuntime {
    /// Why the core's sweep closes a connection of this vServer, last active at
    /// `lastActivity` (monotonic ns), a tunnel when `tunnel` (its idle time is `tunnelTimeout` if
    /// set); nil: it stays open.
    func closeReason(now: UInt64, lastActivity: UInt64, closeAllDeadline: UInt64?, tunnel: Bool = false) -> CloseReason? {
        if let closeAllDeadline, now >= closeAllDeadline { return .shutdown }
        let drain = drainDeadline.load(ordering: .relaxed)
        if drain != 0 && now >= drain { return .drained }
        let idle = UInt64(((tunnel ? config.tunnelTimeout : nil) ?? config.idleTimeout).totalNanoseconds)
        return now &- lastActivity >= idle && now > lastActivity ? .idle : nil
    }
}

/// The live connections of one core, in slots: O(1) insert and remove without hashing, and a
/// sweep over all of them for idle timeouts and draining. Loop-bound (one per core).
struct ConnectionRegistry {
    private var slots: [(any LiveConnection)?] = []
    private var free: [Int] = []
    public private(set) var count = 0

    /// Stores `connection` and returns its slot.
    mutating func insert(_ connection: any LiveConnection) -> Int {
        count += 1
        if let slot = free.popLast() {
            slots[slot] = connection
            return slot
        }
        slots.append(connection)
        return slots.count - 1
    }

    mutating func remove(slot: Int) {
        precondition(slots[slot] != nil, "slot \(slot) is empty")
        slots[slot] = nil
        free.append(slot)
        count -= 1
    }

    /// Every live connection (a copy: the body may close connections).
    var all: [any LiveConnection] { slots.compactMap { $0 } }
}
