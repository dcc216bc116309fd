/// A client connection a core sweeps: a relayed connection (`ProxyConnection`) or an HTTP
/// session routed per request (`HTTPSession`). Loop-bound.
protocol LiveConnection: AnyObject {
    /// Whether the core's sweep should close this connection now (idle, drained, shut down).
    func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool
    func close()
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
