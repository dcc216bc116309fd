import Glibc
import NIOCore
import NIOSSL
import Synchronization
import TMSCore

/// One client connection, from accept to close: routes it along its backup chain through the
/// quota of its core, connects it to a service (trying the next one when one refuses), relays
/// it, and on its end releases its quota — exactly once, through its `QuotaLease`.
///
/// The routing and accounting are here; how bytes move is a subclass's: `ChannelConnection`
/// (NIO channels: TLS, HTTP answers) or `PolledConnection` (plain TCP on the core's poll set).
/// A subclass overrides the transport hooks below and reports back with `serviceConnected`,
/// `serviceFailed`, `relayed`, `busy` and `finish`.
///
/// Loop-bound: lives on the event loop of the core that accepted it. `finish()` is the single
/// end of every path (idempotent).
class ProxyConnection: LiveConnection, QueueWaiter {
    enum Phase: Equatable {
        case accepted
        case waiting(ticket: UInt64)
        case connecting
        case relaying
        /// Answering an HTTP client itself (redirect, unavailable).
        case responding
        case finished
    }

    let core: CoreRuntime
    let chain: RouteChain
    private(set) var phase: Phase = .accepted
    /// The vServer of the chain that admitted the connection, and the use it holds.
    private var member: VServerRuntime?
    private var memberState: CoreVServerState?
    private var counters: CoreTaskCounters?
    private var lease: QuotaLease?
    /// Where the chain walk stands (to resume after a queue timeout) and where it started.
    private var position = 0
    private var walkStart = 0
    private var tried = ServiceSet()
    private(set) var serviceIndex = -1
    private var slot = -1
    private(set) var lastActivity: UInt64
    // For the access log: what happened to the connection.
    private let acceptedAt: UInt64
    private var bytesIn = 0
    private var bytesOut = 0
    private var waited = false
    private var timedOut = false
    private var response: EndOfChainResponse?
    private var servedBy: String?
    /// The current service's counters on this core, and when its connect started or (once
    /// relaying) when the connection was ready; 0 once the first byte back was timed.
    private var serviceCounters: CoreServiceCounters?
    private var serviceClock: UInt64 = 0

    init(core: CoreRuntime, chain: RouteChain) {
        self.core = core
        self.chain = chain
        lastActivity = MonotonicTime.nanos()
        acceptedAt = lastActivity
    }

    // MARK: transport (overridden by the subclass)

    /// The client's address.
    var clientAddress: SocketAddress? { nil }

    /// Opens a connection to `address` (a service of `member`) and reports back with
    /// `serviceConnected()` or `serviceFailed()`.
    func openService(_ address: SocketAddress, of member: VServerRuntime, index: Int) {}

    /// Closes the client's side (and with it the service's, once relayed).
    func closeClient() {}

    /// Answers an HTTP client from the traffic manager; the quota is already given back.
    func answer(_ response: EndOfChainResponse) { closeClient() }

    /// The connection ended: close a service connection that was opened but not relayed.
    func dropService() {}

    // MARK: routing

    /// Counts the connection among the core's live ones (idle timeout, shutdown). Idempotent.
    func register() {
        guard slot < 0, phase != .finished else { return }
        slot = core.connections.insert(self)
    }

    /// The client connected: route it.
    func start() {
        guard phase == .accepted else { return }
        let began = MonotonicTime.nanos()
        register()
        walkStart = chain.pinnedStart(client: clientKey)
        route(from: 0)
        counters?.busyNanos.add(Int(truncatingIfNeeded: MonotonicTime.nanos() &- began))
    }

    /// The client's address as persistence and stickiness key them (made only when a table asks).
    private lazy var clientKey: String? = clientAddress?.ipText

    /// Walks the chain from walk position `first` (see `RoutePlanner`).
    private func route(from first: Int) {
        let coreIndex = core.index
        let members = chain.members
        let plan = chain.plan(core: coreIndex, start: walkStart, from: first)
        switch plan {
        case .admitted(let index, let position):
            self.position = position
            admitted(members[index], lease: QuotaLease(admittedBy: members[index].quota, core: coreIndex), index: index)
        case .queue(let index, let position):
            self.position = position
            wait(for: members[index], index: index)
        case .endOfChain:
            endOfChain()
        }
    }

    private func wait(for member: VServerRuntime, index: Int) {
        switch core.admitOrQueue(self, at: member) {
        case .admitted(let lease):
            admitted(member, lease: lease, index: index)
        case .queued(let ticket):
            phase = .waiting(ticket: ticket)
            waited = true
            waitingFor = member
        case .refused:
            // The queue is full: on down the chain (or its end).
            route(from: position + 1)
        }
    }

    /// The vServer the connection waits for (while `.waiting`).
    private var waitingFor: VServerRuntime?

    /// `vServer`'s quota served this connection's wait: `lease` is its admitted use.
    func queueServed(_ lease: QuotaLease, vServer: VServerRuntime) {
        guard case .waiting = phase else {
            core.release(lease, of: vServer)
            return
        }
        waitingFor = nil
        admitted(vServer, lease: lease, index: chain.members.firstIndex { $0 === vServer } ?? 0)
    }

    /// The wait timed out: go on down the chain.
    func queueExpired() {
        guard case .waiting = phase else { return }
        waitingFor = nil
        phase = .accepted
        timedOut = true
        route(from: position + 1)
    }

    private func admitted(_ member: VServerRuntime, lease: QuotaLease, index: Int) {
        self.member = member
        self.lease = lease
        memberState = member.coreState(core.index)
        counters = member.usage.cells[core.index]
        counters?.opened.add(1)
        chain.pin(client: clientKey, to: index)
        phase = .connecting
        connectNext()
    }

    private func endOfChain() {
        chain.primary.usage.cells[core.index].refusals.add(1)
        switch (chain.mode, chain.endAction) {
        case (.http, .redirect(let url)):
            respond(.redirect(location: url))
        case (.http, .refuse):
            respond(.unavailable)
        case (.tcp, _):
            close()
        }
    }

    // MARK: connecting

    private func connectNext() {
        guard let member, let memberState, phase == .connecting else { return }
        let services = member.services
        guard let index = member.stickyService(client: clientKey, excluding: tried)
                ?? memberState.balancer.pick(isUp: { services[$0].isUp }, excluding: tried,
                                             openConnections: { services[$0].openConnections }) else {
            // Every service that is up refused (or none is up): nothing left to try.
            switch chain.mode {
            case .http: respond(.unavailable)
            case .tcp: close()
            }
            return
        }
        tried.insert(index)
        // Counted from the pick, so a burst of connections spreads before any connect completes.
        memberState.balancer.opened(index)
        services[index].connectionOpened()
        serviceIndex = index
        serviceCounters = services[index].counters[core.index]
        serviceClock = MonotonicTime.nanos()
        openService(services[index].address, of: member, index: index)
    }

    /// The connect to the current service failed (refused, timed out, its TLS handshake could
    /// not start): on to the next one.
    func serviceFailed() {
        guard phase == .connecting else { return }
        counters?.connectFailures.add(1)
        serviceCounters?.connectFailures.add(1)
        serviceClosed()
        connectNext()
    }

    /// The current service is connected: the relay starts. Returns false when the connection
    /// ended meanwhile (the caller closes what it opened).
    func serviceConnected() -> Bool {
        guard phase == .connecting else { return false }
        member?.stick(client: clientKey, to: serviceIndex)
        if let serviceCounters {
            let now = MonotonicTime.nanos()
            serviceCounters.connections.add(1)
            serviceCounters.connectTime.record(nanos: now &- serviceClock)
            serviceClock = now
        }
        phase = .relaying
        if core.accessLog != nil, serviceIndex >= 0, let member {
            let name = member.services[serviceIndex].config.name
            servedBy = member === chain.primary ? name : member.config.name + "/" + name
            timedOut = false
        }
        return true
    }

    /// The connection to the current service ended (or never opened): uncount it.
    private func serviceClosed() {
        guard serviceIndex >= 0 else { return }
        memberState?.balancer.closed(serviceIndex)
        member?.services[serviceIndex].connectionClosed()
        serviceIndex = -1
        serviceCounters = nil
    }

    // MARK: answering HTTP clients

    /// Answers an HTTP client from the traffic manager (302 or 503). No service will be used:
    /// a quota admitted is given back now.
    private func respond(_ response: EndOfChainResponse) {
        phase = .responding
        self.response = response
        if let lease, let member { core.release(lease, of: member) }
        answer(response)
    }

    // MARK: accounting

    func relayed(_ bytes: Int, from side: RelayHandler.Side) {
        guard let counters else { return }
        switch side {
        case .client:
            counters.bytesIn.add(bytes)
            bytesIn &+= bytes
            serviceCounters?.bytesSent.add(bytes)
        case .service:
            counters.bytesOut.add(bytes)
            bytesOut &+= bytes
            if let serviceCounters {
                serviceCounters.bytesReceived.add(bytes)
                if serviceClock != 0 {
                    serviceCounters.firstByteTime.record(nanos: MonotonicTime.nanos() &- serviceClock)
                    serviceClock = 0
                }
            }
        }
        if member?.bandwidth != nil { memberState?.consumeBandwidth(bytes, now: MonotonicTime.now()) }
    }

    func busy(from start: UInt64, to end: UInt64) {
        lastActivity = end
        counters?.busyNanos.add(Int(truncatingIfNeeded: end &- start))
    }

    // MARK: ending

    var isFinished: Bool { phase == .finished }

    /// Whether the core's sweep should close this connection now.
    func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool {
        guard let reason = (member ?? chain.primary).closeReason(now: now, lastActivity: lastActivity,
                                                                 closeAllDeadline: closeAllDeadline) else { return false }
        if reason == .idle { timedOut = true }
        return true
    }

    /// Closes the client's side. The quota is given back at once: nothing more is relayed, and
    /// a TLS client's close may wait for its close_notify (NIOSSL's shutdown timeout).
    func close() {
        if let lease, let member { core.release(lease, of: member) }
        closeClient()
    }

    /// The end of the connection, whatever ended it. Idempotent.
    func finish() {
        guard phase != .finished else { return }
        let previous = phase
        phase = .finished
        if case .waiting(let ticket) = previous, let member = waitingFor {
            core.leaveQueue(ticket: ticket, of: member)
        }
        if let lease, let member { core.release(lease, of: member) }
        serviceClosed()
        dropService()
        if lease != nil { counters?.closed.add(1) }
        if slot >= 0 { core.connections.remove(slot: slot) }
        waitingFor = nil
        if let accessLog = core.accessLog { accessLog.record(record(endedIn: previous), core: core.index) }
    }

    /// The access log's record of this connection, as it ends.
    private func record(endedIn phase: Phase) -> AccessLogRecord {
        let outcome: AccessLogRecord.Outcome
        switch (response, servedBy) {
        case (.redirect?, _): outcome = .redirected
        case (.unavailable?, _): outcome = timedOut ? .timedOut : .refused
        case (nil, .some):
            outcome = timedOut ? .timedOut : member !== chain.primary ? .spilled : waited ? .queued : .served
        case (nil, nil):
            if case .waiting = phase { outcome = .timedOut } else { outcome = timedOut ? .timedOut : .refused }
        }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let client = clientAddress?.accessLogText ?? "-"
        return AccessLogRecord(timeMs: UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000,
                               vServer: chain.primary.config.name, core: core.index, client: client,
                               target: servedBy ?? "-", bytesIn: bytesIn, bytesOut: bytesOut,
                               durationUs: Int((MonotonicTime.nanos() &- acceptedAt) / 1000), outcome: outcome)
    }
}

extension Synchronization.Atomic where Value == Int {
    /// Adds to a counter that only the calling thread writes (a load and a store, no
    /// read-modify-write).
    @inline(__always)
    func add(_ amount: Int) {
        store(load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }
}
