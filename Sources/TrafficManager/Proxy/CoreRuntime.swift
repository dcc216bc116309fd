import NIOCore
import TMSCore

/// Everything one core's event loop owns: the routing table it routes with, its live
/// connections, the connections waiting for quota, and its periodic sweep (idle timeouts,
/// draining, queue timeouts). Loop-bound: created and used on its loop only.
final class CoreRuntime {
    let index: Int
    let loop: any EventLoop
    unowned let dataPlane: DataPlane
    /// The core's raw sockets (plain TCP vServers), handled on this loop.
    let poller: CorePoller
    var table: RoutingTable?
    var connections = ConnectionRegistry()
    /// Connections (and HTTP requests) waiting in a vServer's queue, by ticket.
    var waiting: [UInt64: any QueueWaiter] = [:]
    /// When set (monotonic ns), every connection still open then is closed (shutdown).
    var closeAllDeadline: UInt64?
    /// Idle service connections of HTTP sessions (`routing: request`), for reuse.
    var backendPool = BackendPool()
    /// Where each ended connection's record goes (nil: no access log).
    var accessLog: AccessLog?
    private var sweep: RepeatedTask?

    static let sweepInterval = TimeAmount.milliseconds(100)

    init(index: Int, loop: any EventLoop, dataPlane: DataPlane, poller: CorePoller) {
        self.index = index
        self.loop = loop
        self.dataPlane = dataPlane
        self.poller = poller
    }

    func startSweeping() {
        let core = NIOLoopBound(self, eventLoop: loop)
        sweep = loop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
            core.value.sweepOnce(now: MonotonicTime.nanos())
        }
    }

    func stopSweeping() {
        sweep?.cancel()
        sweep = nil
    }

    /// Closes idle connections, those of removed vServers past their drain deadline, and all
    /// of them past the shutdown deadline; expires queued requests whose time ran out.
    func sweepOnce(now: UInt64) {
        for connection in connections.all {
            if connection.shouldClose(now: now, closeAllDeadline: closeAllDeadline) { connection.close() }
        }
        for backend in backendPool.sweep(now: now, all: closeAllDeadline != nil) { backend.close() }
        if index == 0, let table {
            let duration = Duration.nanoseconds(Int64(now))
            for vServer in table.vServers.values {
                if case .wait = vServer.quota.queuePolicy {
                    let update = vServer.quota.serveWaiters(now: duration)
                    if !update.isEmpty { dataPlane.deliver(update, of: vServer) }
                }
                for (_, table) in vServer.sharedTables { table.removeExpired(now: duration) }
            }
        }
    }

    /// Releases `lease` (once) and hands any waiters it serves to their cores.
    func release(_ lease: QuotaLease, of vServer: VServerRuntime) {
        let now: Duration? = if case .wait = vServer.quota.queuePolicy { MonotonicTime.now() } else { nil }
        guard let release = lease.release(now: now), !release.waiters.isEmpty else { return }
        dataPlane.deliver(release.waiters, of: vServer)
    }

    /// A waiter of this core was admitted by another thread: hand the use to its connection,
    /// or give it back if the connection is gone.
    func served(ticket: UInt64, vServer: VServerRuntime) {
        let lease = QuotaLease(admittedBy: vServer.quota, core: index)
        if let connection = waiting.removeValue(forKey: ticket) {
            connection.queueServed(lease, vServer: vServer)
        } else {
            release(lease, of: vServer)
        }
    }

    func expired(ticket: UInt64) {
        waiting.removeValue(forKey: ticket)?.queueExpired()
    }

    /// How `admitOrQueue` went.
    enum QueueEntry {
        case admitted(QuotaLease)
        /// Waiting under this ticket (`queueServed` or `queueExpired` follows).
        case queued(ticket: UInt64)
        /// The queue is full (or there is none): on down the chain.
        case refused
    }

    /// Asks `member`'s quota for one use for `waiter`, which joins the member's queue (counted
    /// in its usage) when no use is free.
    func admitOrQueue(_ waiter: any QueueWaiter, at member: VServerRuntime) -> QueueEntry {
        let ticket = dataPlane.nextTicket()
        switch member.quota.admitOrWait(core: index, ticket: ticket, now: MonotonicTime.now()) {
        case .admitted:
            return .admitted(QuotaLease(admittedBy: member.quota, core: index))
        case .queued:
            member.usage.cells[index].queued.add(1)
            waiting[ticket] = waiter
            return .queued(ticket: ticket)
        case .refused:
            return .refused
        }
    }

    /// Takes the waiter of `ticket` out of `member`'s queue. A use the quota served meanwhile
    /// reaches `served(ticket:vServer:)`, finds no waiter and is given back there.
    func leaveQueue(ticket: UInt64, of member: VServerRuntime) {
        waiting[ticket] = nil
        _ = member.quota.cancelWaiter(Waiter(core: index, ticket: ticket))
    }
}

/// What waits in a vServer's queue for a use of its quota: a TCP connection, or an HTTP
/// session's request (`routing: request`). Loop-bound, like its core.
protocol QueueWaiter: AnyObject {
    /// `vServer`'s quota served the wait: `lease` is the admitted use.
    func queueServed(_ lease: QuotaLease, vServer: VServerRuntime)
    /// The wait timed out.
    func queueExpired()
}
