import Atomics

extension VServerQuota {
    /// Admits one use on `core`, or — when there is no quota and the queue policy is
    /// `.wait` — queues the request under `ticket` (the caller's identifier for it).
    ///
    /// Requests are served in FIFO order: while requests wait, a new request that would need
    /// a batch from the shared pool queues behind them (one within its core's quota is still
    /// admitted at once). A queued request is later reported, exactly once, as served
    /// (already admitted on its core) or expired, by `release(core:now:)`,
    /// `serveWaiters(now:)` or `updateLimit`; `cancelWaiter` withdraws it.
    public func admitOrWait(core: Int, ticket: UInt64, now: Duration) -> WaitAdmission {
        checkCore(core)
        let reason: RefusalReason
        switch attemptAdmit(core: core, yieldToWaiters: true, remote: false) {
        case .admitted(let source):
            bump(.admitted, core: core)
            return .admitted(source)
        case .noQuota(let why):
            reason = why
        }
        guard case .wait = queuePolicy else {
            bump(.refused, core: core)
            return .refused(reason)
        }
        let waiting = flag(FlagSlot.waiting)
        return queue.withLock { queue in
            // Announce before re-checking: a release either sees this announcement and
            // serves the queue, or freed its quota before the re-check below sees it.
            waiting.wrappingIncrement(ordering: .sequentiallyConsistent)
            if queue.isEmpty, case .admitted(let source) = attemptAdmit(core: core, yieldToWaiters: false, remote: false) {
                waiting.wrappingDecrement(ordering: .sequentiallyConsistent)
                bump(.admitted, core: core)
                return .admitted(source)
            }
            switch queue.enqueue(Waiter(core: core, ticket: ticket), now: now) {
            case .queued(let position):
                bump(.queued, core: core)
                return .queued(position: position)
            case .full:
                waiting.wrappingDecrement(ordering: .sequentiallyConsistent)
                bump(.refused, core: core)
                return .refused(.queueFull)
            }
        }
    }

    /// Serves waiting requests in order while quota allows; with `now`, first expires those
    /// whose time ran out. The data plane calls this from a periodic tick to enforce the
    /// timeout; `release` and `updateLimit` call it too.
    public func serveWaiters(now: Duration?) -> WaiterUpdate {
        guard flag(FlagSlot.waiting).load(ordering: .sequentiallyConsistent) > 0 else { return WaiterUpdate() }
        return queue.withLock { queue in serveLocked(&queue, now: now) }
    }

    /// Withdraws a waiting request (its client went away). Returns whether it was waiting.
    @discardableResult
    public func cancelWaiter(_ waiter: Waiter) -> Bool {
        queue.withLock { queue in
            guard queue.remove(where: { $0 == waiter }) != nil else { return false }
            flag(FlagSlot.waiting).wrappingDecrement(ordering: .sequentiallyConsistent)
            return true
        }
    }

    /// The requests waiting, in serving order.
    public var waiters: [Waiter] { queue.withLock { $0.elements } }

    private func serveLocked(_ queue: inout WaitQueue<Waiter>, now: Duration?) -> WaiterUpdate {
        let waiting = flag(FlagSlot.waiting)
        var expired: [Waiter] = []
        if let now {
            expired = queue.removeExpired(now: now)
            for waiter in expired {
                bump(.expired, core: waiter.core, remote: true)
                waiting.wrappingDecrement(ordering: .sequentiallyConsistent)
            }
        }
        var served: [ServedWaiter] = []
        while let head = queue.first {
            guard case .admitted(let source) = attemptAdmit(core: head.core, yieldToWaiters: false, remote: true)
            else { break }
            queue.removeFirst()
            waiting.wrappingDecrement(ordering: .sequentiallyConsistent)
            bump(.admitted, core: head.core, remote: true)
            bump(.served, core: head.core, remote: true)
            served.append(ServedWaiter(waiter: head, source: source))
        }
        return WaiterUpdate(served: served, expired: expired)
    }
}
