/// A bounded FIFO queue of requests waiting for quota, each with a deadline. Pure state:
/// the caller passes the current time (a `Duration` since any fixed origin of its
/// monotonic clock); nothing here reads a clock or starts a timer.
public struct WaitQueue<Element: Sendable>: Sendable {
    /// At most this many elements wait at once (0: nothing may wait).
    public let capacity: Int
    /// How long an element may wait.
    public let timeout: Duration

    struct Entry: Sendable {
        let element: Element
        let deadline: Duration
    }

    private var entries: [Entry] = []
    private var head = 0

    public init(capacity: Int, timeout: Duration) {
        precondition(capacity >= 0, "negative wait-queue capacity")
        precondition(timeout >= .zero, "negative wait-queue timeout")
        self.capacity = capacity
        self.timeout = timeout
    }

    public enum EnqueueResult: Sendable, Hashable {
        /// Queued; `position` 1 is the next to be served.
        case queued(position: Int)
        case full
    }

    public var count: Int { entries.count - head }
    public var isEmpty: Bool { count == 0 }
    /// The element served next.
    public var first: Element? { isEmpty ? nil : entries[head].element }
    /// The elements in serving order.
    public var elements: [Element] { entries[head...].map(\.element) }

    /// Appends `element`, which may wait until `now + timeout`.
    public mutating func enqueue(_ element: Element, now: Duration) -> EnqueueResult {
        guard count < capacity else { return .full }
        entries.append(Entry(element: element, deadline: now + timeout))
        return .queued(position: count)
    }

    /// Removes and returns the element served next.
    @discardableResult
    public mutating func removeFirst() -> Element? {
        guard !isEmpty else { return nil }
        let element = entries[head].element
        head += 1
        compactIfSparse()
        return element
    }

    /// Removes and returns, in order, every element whose deadline is at or before `now`.
    public mutating func removeExpired(now: Duration) -> [Element] {
        guard entries[head...].contains(where: { $0.deadline <= now }) else { return [] }
        var expired: [Element] = []
        var kept: [Entry] = []
        for entry in entries[head...] {
            if entry.deadline <= now { expired.append(entry.element) } else { kept.append(entry) }
        }
        entries = kept
        head = 0
        return expired
    }

    /// Removes the first element matching `predicate` (a request that went away).
    public mutating func remove(where predicate: (Element) -> Bool) -> Element? {
        guard let index = entries[head...].firstIndex(where: { predicate($0.element) }) else { return nil }
        let element = entries.remove(at: index).element
        compactIfSparse()
        return element
    }

    private mutating func compactIfSparse() {
        if head > 32 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
