/// Replays a connection trace through the real `VServerQuota` — a sizing tool for
/// operators: how would this limit, core count and these percentages have coped?
///
/// For each `open`: the spillover rule first (if a backup exists the request is counted as
/// spilled), then admission; with a queue policy, a request that finds no quota waits and is
/// served by a later `close` or expires at its deadline (checked at each event's time). A
/// `close` releases the client's connection (or withdraws its waiting request; for a client
/// that was spilled or refused it is ignored).
public struct TraceSimulator: Sendable {
    public struct Options: Sendable, Hashable {
        public var config: PoolConfig
        public var queue: QueuePolicy
        /// Whether a backup vServer exists to take spilled requests. Without one, the
        /// request goes through admission (and is queued or refused when there is no quota).
        public var spillToBackup: Bool

        public init(config: PoolConfig, queue: QueuePolicy = .refuse, spillToBackup: Bool = true) {
            self.config = config
            self.queue = queue
            self.spillToBackup = spillToBackup
        }
    }

    public let options: Options
    /// The pools the trace is replayed with.
    public let sizing: PoolSizing

    /// - Throws: `PoolConfigError` when `options.config` cannot make a vServer quota.
    public init(options: Options) throws(PoolConfigError) {
        self.sizing = try VServerQuota.sizing(for: options.config)
        if case .wait(let capacity, let timeout) = options.queue {
            precondition(capacity >= 0 && timeout >= .zero, "negative wait-queue capacity or timeout")
        }
        self.options = options
    }

    private enum Client {
        case open(core: Int)
        case waiting(Waiter)
        case gone
    }

    /// Parses and replays `csv`.
    /// - Throws: `TraceError` naming the line for a malformed line, a core out of range, a
    ///   client opened twice, or a close of a client never opened or on another core.
    public func run(csv: String) throws(TraceError) -> SimulationReport {
        try run(events: TraceParser.parse(csv))
    }

    public func run(events: [TraceEvent]) throws(TraceError) -> SimulationReport {
        // The configuration was validated in `init`, so this cannot fail.
        let quota = try! VServerQuota(options.config, queue: options.queue)
        var clients: [String: Client] = [:]
        var clientOfTicket: [UInt64: String] = [:]
        var nextTicket: UInt64 = 0
        var peak = 0
        var peakTime = Duration.zero
        var waitingNow = 0

        func apply(_ update: WaiterUpdate) {
            for served in update.served {
                let client = clientOfTicket.removeValue(forKey: served.waiter.ticket)!
                clients[client] = .open(core: served.waiter.core)
                waitingNow -= 1
            }
            for expired in update.expired {
                let client = clientOfTicket.removeValue(forKey: expired.ticket)!
                clients[client] = .gone
                waitingNow -= 1
            }
        }

        for event in events {
            apply(quota.serveWaiters(now: event.time))
            guard event.core < quota.cores else {
                throw TraceError(line: event.line, "core \(event.core) does not exist (cores 0...\(quota.cores - 1))")
            }
            switch event.kind {
            case .open:
                switch clients[event.client] {
                case .open, .waiting:
                    throw TraceError(line: event.line, "client \(event.client) opens again without closing")
                case .gone, nil:
                    break
                }
                if options.spillToBackup && quota.spilloverDecision(core: event.core) == .backup {
                    clients[event.client] = .gone
                    continue
                }
                let ticket = nextTicket
                nextTicket += 1
                switch quota.admitOrWait(core: event.core, ticket: ticket, now: event.time) {
                case .admitted:
                    clients[event.client] = .open(core: event.core)
                case .queued:
                    clients[event.client] = .waiting(Waiter(core: event.core, ticket: ticket))
                    clientOfTicket[ticket] = event.client
                    waitingNow += 1
                case .refused:
                    clients[event.client] = .gone
                }
            case .close:
                switch clients[event.client] {
                case nil:
                    throw TraceError(line: event.line, "client \(event.client) closes but never opened")
                case .open(let core):
                    guard core == event.core else {
                        throw TraceError(line: event.line,
                                         "client \(event.client) was opened on core \(core) but closes on core \(event.core)")
                    }
                    clients[event.client] = .gone
                    apply(quota.release(core: core, now: event.time).waiters)
                case .waiting(let waiter):
                    quota.cancelWaiter(waiter)
                    clientOfTicket[waiter.ticket] = nil
                    clients[event.client] = .gone
                    waitingNow -= 1
                case .gone:
                    break
                }
            }
            let inUse = quota.totalInUse
            if inUse > peak {
                peak = inUse
                peakTime = event.time
            }
        }

        let perCore = (0..<quota.cores).map { core in
            let counters = quota.counters(core: core)
            return SimulationReport.Core(
                core: core, admitted: counters.admitted, borrowedBatches: counters.borrowedBatches,
                spilled: counters.spilled, queued: counters.queued, refused: counters.refused + counters.expired,
                servedFromQueue: counters.served, expired: counters.expired)
        }
        let (seconds, attoseconds) = peakTime.components
        return SimulationReport(
            sizing: quota.sizing, cores: perCore, peakInUse: peak,
            peakTimeSeconds: Double(seconds) + Double(attoseconds) / 1e18, events: events.count,
            openAtEnd: quota.totalInUse, waitingAtEnd: waitingNow)
    }
}
