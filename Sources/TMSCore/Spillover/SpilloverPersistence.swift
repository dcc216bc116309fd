/// Optional spillover persistence: a client (by address) that was sent to a backup keeps
/// going there until `timeout` after it was sent. Pure state; the caller passes `now`.
public struct SpilloverPersistence: Sendable, Hashable {
    public let timeout: Duration

    struct Entry: Sendable, Hashable {
        let target: VServerID
        let expires: Duration
    }

    private var entries: [String: Entry] = [:]

    public init(timeout: Duration) {
        precondition(timeout >= .zero, "negative persistence timeout")
        self.timeout = timeout
    }

    /// The backup `client` is pinned to at `now`, if any.
    public func target(for client: String, now: Duration) -> VServerID? {
        guard let entry = entries[client], now < entry.expires else { return nil }
        return entry.target
    }

    /// Pins `client` to `target` from `now` for `timeout`.
    public mutating func record(client: String, target: VServerID, now: Duration) {
        entries[client] = Entry(target: target, expires: now + timeout)
    }

    /// Pins `client` to `target` until `expires` (a pin learnt from elsewhere: a session store).
    public mutating func pin(client: String, target: VServerID, until expires: Duration) {
        entries[client] = Entry(target: target, expires: expires)
    }

    /// Every pin: client, target, expiry.
    public var pins: [(client: String, target: VServerID, expires: Duration)] {
        entries.map { ($0.key, $0.value.target, $0.value.expires) }
    }

    public mutating func forget(client: String) {
        entries[client] = nil
    }

    /// Drops expired pins; returns how many.
    @discardableResult
    public mutating func removeExpired(now: Duration) -> Int {
        let before = entries.count
        entries = entries.filter { now < $0.value.expires }
        return before - entries.count
    }

    /// Pins currently stored (expired ones included until `removeExpired`).
    public var count: Int { entries.count }
}
