import Libvirt
import CVMProtocol
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Watches every CVM: keeps one hypervisor connection per host and each agent's channel
/// open, records authenticated heartbeats and usage in the store, and decides what a silence
/// means.
///
/// A failure is only declared when it is confirmed:
/// - heartbeats stopped *and* the host's libvirtd answered that the domain is not running
///   (or that it runs while its agent has said nothing on a freshly opened channel), or
///   libvirt reported the domain stopped or crashed;
/// - or the host's libvirtd stayed unreachable for longer than `hostLossTimeout`: the host is
///   declared lost and its CVMs failed.
///
/// Until then a silent CVM on an unreachable host is `unknown`, and nothing acts on it. A
/// dropped connection (libvirtd restarted, link down) is noticed by libvirt's keepalive or by a
/// probe with a deadline, then reopened with backoff, and every channel of that host with it.
/// A CVM that was failed or unknown comes back to `running` when it heartbeats again — except
/// a cluster member whose agent reports a role the store no longer gives it (an old master
/// whose servant was promoted while its host was away): it is told its role first and only
/// counts as running once its agent holds it. A CVM replaced while its host was away
/// (`fencing`) is destroyed there as soon as the host answers.
///
/// A `Service`: `run()` owns the loop; graceful shutdown closes the channels (the agents
/// keep running) and stops.
public final class HeartbeatMonitor: Service, Sendable {
    let orchestrator: CVMOrchestrator
    let logger: Logger
    let tick: Duration
    /// How long after a channel ended it is reopened (see `State.closedAt`).
    static let reopenDelay: TimeInterval = 0.5
    /// How long a host's libvirtd may stay unreachable before the host is declared lost.
    let hostLossTimeout: Duration
    /// How long a libvirt call may take before the host counts as unreachable.
    let probeTimeout: Duration
    let connectTimeout: Duration
    private let state = Mutex(State())
    /// Lifecycle events as libvirt's event thread delivers them: that thread only queues them
    /// here; `run()` reads the store and marks failures on its own task.
    private let lifecycle = AsyncStream<HostEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))

    struct HostEvent: Sendable {
        let host: String
        let event: LifecycleEvent
    }

    struct State {
        var watches: [String: Watch] = [:]   // cvm id -> open channel
        var links: [String: HostLink] = [:]  // host name -> connection
        /// When this monitor first saw each CVM: silence is counted from the later of the last
        /// heartbeat and that moment, so a monitor that starts after a pause does not declare
        /// every CVM failed before it has even opened their channels.
        var since: [String: Date] = [:]
        /// CVM ids with a channel being opened, a silence being confirmed, a teardown running.
        var busy: Set<String> = []
        /// When each CVM was last told its role (at most once per heartbeat interval).
        var configuredAt: [String: Date] = [:]
        /// When each CVM's channel last ended. It is reopened no sooner than
        /// ``reopenDelay`` after: a channel ends when QEMU dies, and opening a new one while
        /// libvirtd is still tearing that domain down held its teardown (and the domain's
        /// lifecycle event) back by about 3 s, measured with two guests killed at once.
        var closedAt: [String: Date] = [:]
        /// Heartbeats reach the store at most once per CVM per heartbeat interval: when each
        /// CVM's was last written, and the newest one received since (written by the sweep
        /// once due). A guest flooding signed heartbeats cannot keep the store busy.
        var writtenAt: [String: Date] = [:]
        var pending: [String: PendingBeat] = [:]
        /// Messages rejected per CVM since its last warning (one warning per 10 s at most).
        var rejected: [String: Rejections] = [:]
    }

    struct PendingBeat: Sendable {
        let heartbeat: Heartbeat
        let receivedAt: Date
        let newBoot: Bool
        let interval: TimeInterval
        let watch: Watch
    }

    struct Rejections {
        var count = 0
        var warnedAt = Date.distantPast
    }

    /// How often a CVM's rejected messages are reported at most.
    static let rejectionWarningInterval: TimeInterval = 10

    struct HostLink {
        var hypervisor: (any Hypervisor)?
        var registration: (any Sendable)?
        var connectedAt: Date?
        var connecting = false
        /// A connection attempt whose libvirt call has not returned yet (it may outlive its
        /// deadline).
        var attemptInFlight = false
        var probeInFlight = false
        var probedAt = Date.distantPast
        var unreachableSince: Date?
        var lostAt: Date?
        var reason: String?
        var nextAttempt = Date.distantPast
        var backoff: TimeInterval = 0.25
        /// What the store holds for this host (written when it changes).
        var recorded: HostLinkRecord?

        /// Connected and answering: what a CVM's silence can be judged against.
        var answering: (any Hypervisor)? { unreachableSince == nil ? hypervisor : nil }
    }

    struct Watch: Sendable {
        let link: any AgentLink
        let host: String
        let openedAt: Date
        let token: UUID
    }

    /// Signalled when a failure is confirmed (elastic mode in this process heals at once).
    let wakeUp: WakeUp?
    /// The monitor's own connections: its pings never queue behind a deploy's calls.
    let hypervisors: any HypervisorProvider

    public init(orchestrator: CVMOrchestrator, tick: Duration = .milliseconds(250),
                hostLossTimeout: Duration = .seconds(4), probeTimeout: Duration = .seconds(1),
                connectTimeout: Duration = .seconds(5), wakeUp: WakeUp? = nil, logger: Logger) {
        self.orchestrator = orchestrator
        self.wakeUp = wakeUp
        self.hypervisors = orchestrator.hypervisors.dedicated()
        self.tick = tick
        self.hostLossTimeout = hostLossTimeout
        self.probeTimeout = probeTimeout
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    public func run() async throws {
        let store = orchestrator.store
        let pid = getpid()
        let started = Date()
        try await store.monitorTick(pid: pid, startedAt: started)
        logger.info("heartbeat monitor started", metadata: ["cvm.state": "\(orchestrator.configuration.stateDirectory)"])
        await withDiscardingTaskGroup { group in
            var nextReconcile = Date.distantPast
            group.addTask {
                for await hostEvent in self.lifecycle.stream { await self.handle(hostEvent) }
            }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await store.monitorTick(pid: pid, startedAt: started)
                    if Date() >= nextReconcile {
                        // A `migrate` killed midway leaves its CVM `migrating`, watched by no one.
                        nextReconcile = Date().addingTimeInterval(2)
                        let migrator = orchestrator.migrator
                        group.addTask { await migrator.reconcileInterrupted() }
                    }
                    let records = try await sweep(group: &group)
                    try await promoteWhereMastersAreLost(records)
                } catch is CancellationError {
                    // Stopping: the loop ends.
                } catch {
                    logger.warning("monitor sweep failed", metadata: ["cvm.error": "\(error)"])
                }
                // A graceful shutdown ends the wait: stopping never waits out a tick.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.tick) }
            }
            let watches = state.withLock { s in
                defer { s.watches.removeAll(); s.links.removeAll() }
                return s.watches.values
            }
            for watch in watches { watch.link.close() }
            lifecycle.continuation.finish()
            group.cancelAll()
        }
        // Also after a cancellation (the graceful shutdown took too long): `status` must not
        // report a monitor that has stopped.
        try? await withoutCancellation { try await store.clearMonitor(pid: pid) }
        logger.info("heartbeat monitor stopped")
    }

    // MARK: The sweep

    /// One pass over the store: keeps every host's connection, opens missing channels,
    /// judges silences, declares lost hosts, fences. Slow work (anything that talks to a
    /// host) runs in child tasks, one per host or CVM at a time, so a hung host delays no one.
    /// Returns the CVM records it read (as they were before this sweep's own updates).
    private func sweep(group: inout DiscardingTaskGroup) async throws -> [CVMRecord] {
        let store = orchestrator.store
        let now = Date()
        let records = try await store.cvms()
        let watchable = records.filter { [.running, .failed, .unknown, .fencing].contains($0.state) }
        let ids = Set(watchable.map(\.id))
        let hostOf = Dictionary(watchable.filter { $0.state != .fencing }.map { ($0.id, $0.host) }, uniquingKeysWith: { a, _ in a })

        // Forget channels of CVMs that left the watched set (decommission, migration).
        let stale = state.withLock { s in
            s.since = s.since.filter { ids.contains($0.key) }
            for id in ids where s.since[id] == nil { s.since[id] = now }
            s.configuredAt = s.configuredAt.filter { ids.contains($0.key) }
            s.closedAt = s.closedAt.filter { ids.contains($0.key) && now.timeIntervalSince($0.value) < Self.reopenDelay }
            s.writtenAt = s.writtenAt.filter { ids.contains($0.key) }
            s.pending = s.pending.filter { ids.contains($0.key) }
            s.rejected = s.rejected.filter { ids.contains($0.key) }
            // A channel belongs to a CVM on the host it was opened on, and not being fenced.
            let stale = s.watches.filter { hostOf[$0.key] != $0.value.host }
            for id in stale.keys { s.watches.removeValue(forKey: id) }
            return stale.values
        }
        for watch in stale { watch.link.close() }
        await writeDueHeartbeats(now: now)

        for host in Set(watchable.map(\.host)).sorted() {
            refreshLink(host: host, now: now, group: &group)
        }
        await declareLostHosts(now: now)
        await recordLinks(now: now)

        let links = state.withLock { $0.links }
        for record in watchable {
            guard let link = links[record.host] else { continue }
            if record.state == .fencing {
                if let hypervisor = link.answering, claim(record.id) {
                    group.addTask { await self.fence(record, on: hypervisor) }
                }
                continue
            }
            if link.lostAt != nil {
                if record.state == .running || record.state == .unknown {
                    await mark(record, .failed, reason: "host \(record.host) lost: its libvirtd has not answered since \(Self.clock(link.unreachableSince ?? now)) (\(link.reason ?? "unreachable"))")
                }
                continue
            }
            guard let hypervisor = link.answering else {
                if record.state == .running, silence(of: record, now: now) != nil {
                    await mark(record, .unknown, reason: "host \(record.host) unreachable since \(Self.clock(link.unreachableSince ?? now)): \(link.reason ?? "no answer")")
                }
                continue
            }
            let (watch, justClosed) = state.withLock { ($0.watches[record.id], $0.closedAt[record.id] != nil) }
            if watch == nil, justClosed { continue }
            if watch == nil, claim(record.id) {
                group.addTask { await self.open(record, on: hypervisor) }
                continue
            }
            if record.state == .running || record.state == .unknown, let silent = silence(of: record, now: now),
               claim(record.id) {
                group.addTask { await self.confirmSilence(of: record, silentFor: silent, on: hypervisor, channelOpenedAt: watch?.openedAt) }
            }
        }
        return records
    }

    /// Seconds since the CVM was last heard from (or since it could have been), when that
    /// is longer than three heartbeat intervals; nil otherwise.
    private func silence(of record: CVMRecord, now: Date) -> TimeInterval? {
        let (since, watch, connectedAt) = state.withLock { ($0.since[record.id], $0.watches[record.id], $0.links[record.host]?.connectedAt) }
        let heard = record.lastHeartbeatAt ?? record.startedAt ?? .distantPast
        let last = [heard, since ?? now, watch?.openedAt ?? .distantPast, connectedAt ?? .distantPast].max() ?? now
        let silent = now.timeIntervalSince(last)
        return silent > 3 * Double(record.intervalMs) / 1000 ? silent : nil
    }

    /// Takes the CVM for one piece of slow work; false when another is running for it.
    private func claim(_ id: String) -> Bool {
        state.withLock { $0.busy.insert(id).inserted }
    }

    private func release(_ id: String) {
        _ = state.withLock { $0.busy.remove(id) }
    }

    // MARK: Hosts

    /// Drops a connection libvirt knows is dead (its channels with it) and starts a
    /// reconnection when one is due.
    private func refreshLink(host: String, now: Date, group: inout DiscardingTaskGroup) {
        var probe: (any Hypervisor)?
        var forget = false
        let (dead, connect) = state.withLock { s -> ([Watch]?, Bool) in
            var link = s.links[host] ?? HostLink()
            var dead: [Watch]?
            if let hypervisor = link.hypervisor, !hypervisor.isConnected {
                dead = Self.dropConnection(&link, host: host, since: now, reason: "the connection to its libvirtd closed", watches: &s.watches)
            } else if link.hypervisor != nil, let since = link.unreachableSince, link.probeInFlight,
                      now.timeIntervalSince(since) >= 3 {
                // Silent for 3 s with a ping still hanging and libvirt's keepalive not giving
                // up: the link is gone. A new connection (after a TCP check) notices the host's
                // return at once; the old one would only after TCP's retransmission backoff.
                let reason = link.reason ?? "no answer"
                dead = Self.dropConnection(&link, host: host, since: since, reason: reason, watches: &s.watches)
                forget = true
            }
            // A connection that looks alive is pinged every second: a link that dropped
            // silently is noticed within about two seconds, before heartbeats are even missed.
            if let hypervisor = link.hypervisor, !link.probeInFlight, now.timeIntervalSince(link.probedAt) >= 1 {
                link.probeInFlight = true
                link.probedAt = now
                probe = hypervisor
            }
            let connect = link.hypervisor == nil && !link.connecting && !link.attemptInFlight && now >= link.nextAttempt
            if connect {
                link.connecting = true
                link.attemptInFlight = true
            }
            s.links[host] = link
            return (dead, connect)
        }
        if forget { hypervisors.forget(host: host) }
        if let dead {
            for watch in dead { watch.link.close() }
            logger.warning("host connection dropped", metadata: ["cvm.host": "\(host)", "cvm.reason": "\(forget ? "no answer for 3 s" : "the connection to its libvirtd closed")"])
        }
        if connect { group.addTask { await self.connect(host: host) } }
        if let probe { group.addTask { await self.ping(host: host, probe) } }
    }

    /// One round trip within the probe deadline. No answer makes the host unreachable (its
    /// CVMs' silence then means `unknown`, not failed) while the connection is kept: a slow
    /// daemon answers the next ping, a dead link is closed by the keepalive. An answer after
    /// an outage makes it reachable again.
    private func ping(host: String, _ hypervisor: any Hypervisor) async {
        let call = Task {
            defer { self.state.withLock { $0.links[host]?.probeInFlight = false } }
            try await hypervisor.ping()
        }
        do {
            try await withDeadline(probeTimeout, "\(host)'s libvirtd") { try await call.value }
            let wasDown = state.withLock { s -> Date? in
                guard var link = s.links[host], link.hypervisor != nil, let since = link.unreachableSince else { return nil }
                link.unreachableSince = nil
                link.lostAt = nil
                link.reason = nil
                link.connectedAt = Date()
                s.links[host] = link
                return since
            }
            if let wasDown { await answersAgain(host, after: wasDown) }
        } catch {
            hostStoppedAnswering(host, reason: Self.describe(error))
        }
    }

    private func answersAgain(_ host: String, after since: Date) async {
        let message = "host \(host) answers again (unreachable for \(String(format: "%.1f", Date().timeIntervalSince(since))) s)"
        logger.warning("host reachable", metadata: ["cvm.host": "\(host)"])
        await orchestrator.journal("host.reachable", host: host, message)
    }

    /// Forgets a host's connection and hands back the channels opened on it (to be closed),
    /// or nil when there was none. Their stream aborts, and the event deregistration the
    /// released registration queues, wait behind the connection's hung call (see
    /// `LibvirtConnection.serially`) and fail at once once libvirt has closed it.
    private static func dropConnection(_ link: inout HostLink, host: String, since: Date, reason: String,
                                       watches: inout [String: Watch]) -> [Watch]? {
        let hadConnection = link.hypervisor != nil
        link.hypervisor = nil
        link.registration = nil
        link.connectedAt = nil
        link.unreachableSince = link.unreachableSince ?? since
        link.reason = reason
        link.nextAttempt = Date.distantPast
        let dropped = watches.filter { $0.value.host == host }
        for id in dropped.keys { watches.removeValue(forKey: id) }
        return hadConnection ? Array(dropped.values) : nil
    }

    /// A host's libvirtd did not answer in time although the connection looks alive (a link
    /// that dropped silently, or a daemon too busy): unreachable from now on, until it
    /// answers a ping again or its connection is closed and reopened.
    private func hostStoppedAnswering(_ host: String, reason: String) {
        let now = Date()
        let first = state.withLock { s -> Bool in
            guard var link = s.links[host], link.hypervisor != nil, link.unreachableSince == nil else { return false }
            link.unreachableSince = now
            link.reason = reason
            s.links[host] = link
            return true
        }
        if first { logger.warning("host not answering", metadata: ["cvm.host": "\(host)", "cvm.reason": "\(reason)"]) }
    }

    /// Opens a host's hypervisor, proves it answers, and subscribes to its lifecycle events;
    /// on failure, schedules the next attempt (backoff 0.25 s doubling up to 2 s).
    private func connect(host name: String) async {
        let started = Date()
        do {
            guard let host = try await orchestrator.store.host(named: name) else {
                throw OrchestratorError.unknownHost(name)
            }
            // The attempt itself may block far longer than the deadline (a connect to a vanished
            // address): the next one starts only after it really ended, so blocked attempts
            // never pile up in libvirt's bounded thread pool.
            let provider = hypervisors
            let probeTimeout = self.probeTimeout
            let attempt = Task {
                defer { self.state.withLock { $0.links[name]?.attemptInFlight = false } }
                if let address = host.address {
                    // A host off the network fails here within a second (libvirt's own connect
                    // would hang in SYN retries and see the host's return late).
                    let open = try await LibvirtExecutor.run { TCPReachability.canConnect(to: address, port: 22, timeout: .seconds(1)) }
                    guard open else { throw OrchestratorError.hostUnreachable(host: name, reason: "no TCP connection to \(address):22 within 1 s") }
                }
                let hypervisor = try await provider.hypervisor(for: host)
                _ = try await withDeadline(probeTimeout, "\(name)'s libvirtd") { try await hypervisor.allDomains().count }
                return hypervisor
            }
            let hypervisor = try await withDeadline(connectTimeout, "connecting to \(name)'s libvirtd") { try await attempt.value }
            let continuation = lifecycle.continuation
            let registration = try await hypervisor.onLifecycleEvents { event in
                guard event.kind == .stopped || event.kind == .crashed, !event.isMigratedAway else { return }
                continuation.yield(HostEvent(host: name, event: event))
            }
            let wasDown = state.withLock { s -> Date? in
                var link = s.links[name] ?? HostLink()
                let wasDown = link.unreachableSince
                link.hypervisor = hypervisor
                link.registration = registration
                link.connectedAt = Date()
                link.connecting = false
                link.unreachableSince = nil
                link.lostAt = nil
                link.reason = nil
                link.backoff = 0.25
                s.links[name] = link
                return wasDown
            }
            if let wasDown { await answersAgain(name, after: wasDown) }
        } catch {
            let reason = Self.describe(error)
            let first = state.withLock { s -> Bool in
                var link = s.links[name] ?? HostLink()
                let first = link.unreachableSince == nil
                link.connecting = false
                link.unreachableSince = link.unreachableSince ?? started
                link.reason = reason
                link.nextAttempt = Date().addingTimeInterval(link.backoff)
                link.backoff = min(link.backoff * 2, 2)
                s.links[name] = link
                return first
            }
            if first { logger.warning("host unreachable", metadata: ["cvm.host": "\(name)", "cvm.reason": "\(reason)"]) }
        }
    }

    /// A host unreachable for longer than the loss timeout is lost: its CVMs count as failed
    /// (confirmed), and clusters and elastic mode may replace them elsewhere.
    private func declareLostHosts(now: Date) async {
        let limit = Double(hostLossTimeout.components.seconds) + Double(hostLossTimeout.components.attoseconds) / 1e18
        let lost = state.withLock { s -> [(String, HostLink)] in
            var lost: [(String, HostLink)] = []
            for (name, var link) in s.links where link.lostAt == nil {
                guard let since = link.unreachableSince, now.timeIntervalSince(since) >= limit else { continue }
                link.lostAt = now
                s.links[name] = link
                lost.append((name, link))
            }
            return lost
        }
        if !lost.isEmpty { wakeUp?.signal() }
        for (name, link) in lost {
            let message = "host \(name) lost: unreachable since \(Self.clock(link.unreachableSince ?? now)) (\(link.reason ?? "no answer"))"
            logger.error("host lost", metadata: ["cvm.host": "\(name)", "cvm.reason": "\(link.reason ?? "")"])
            await orchestrator.journal("host.lost", host: name, message)
        }
    }

    /// Writes each host's reachability to the store when it changed (for `status`, heal,
    /// decommission and elastic mode in other processes).
    private func recordLinks(now: Date) async {
        // Written when it changes: unreachable, lost, answering again.
        let changed = state.withLock { s -> [HostLinkRecord] in
            var changed: [HostLinkRecord] = []
            for (name, var link) in s.links {
                let record = HostLinkRecord(host: name, unreachableSince: link.unreachableSince, lostAt: link.lostAt,
                                            reason: link.reason, checkedAt: now)
                guard link.recorded?.unreachableSince != record.unreachableSince || link.recorded?.lostAt != record.lostAt
                        || link.recorded == nil else { continue }
                link.recorded = record
                s.links[name] = link
                changed.append(record)
            }
            return changed
        }
        for record in changed {
            try? await orchestrator.store.save(record)
            if let since = record.unreachableSince, record.lostAt == nil {
                await orchestrator.journal("host.unreachable", host: record.host,
                                           "host \(record.host) does not answer since \(Self.clock(since)): \(record.reason ?? "no answer")")
            }
        }
    }

    // MARK: CVMs

    /// Opens a CVM's channel and reads it until it closes. A domain that is not running
    /// fails a CVM believed running.
    private func open(_ record: CVMRecord, on hypervisor: any Hypervisor) async {
        defer { release(record.id) }
        guard let secret = Hex.decode(record.secret) else { return }
        let opened: (any AgentLink)?
        do {
            opened = try await withDeadline(probeTimeout, "opening \(record.name)'s channel on \(record.host)") {
                guard let domain = try await hypervisor.lookupDomain(named: record.domainName), await domain.isActive() else { return nil }
                return try await domain.openAgentChannel(cvmID: record.id, secret: secret, force: false)
            }
        } catch {
            // Typically: deploy still holds the channel, or libvirt is busy with the domain
            // (whether the host answers at all is the ping's to say). Retried on the next tick.
            logger.trace("cannot open agent channel yet", metadata: ["cvm.name": "\(record.name)", "cvm.error": "\(error)"])
            return
        }
        guard let channel = opened else {
            if record.state == .running || record.state == .unknown {
                await mark(record, .failed, reason: "domain is not running on \(record.host)")
            }
            return
        }
        let watch = Watch(link: channel, host: record.host, openedAt: Date(), token: UUID())
        let current = state.withLock { s -> Bool in
            // The host's connection may have dropped while this one opened.
            guard s.links[record.host]?.hypervisor != nil else { return false }
            s.watches[record.id] = watch
            return true
        }
        guard current else { return channel.close() }
        release(record.id)
        await consume(watch, cvmID: record.id, interval: Double(record.intervalMs) / 1000)
    }

    /// Heartbeats stopped on a reachable host: ask libvirt what the domain does. Not running →
    /// failed. Running with a channel open for three intervals and still silent → the agent is
    /// hung: failed. No answer in time → asked again on the next tick (whether the host
    /// answers at all is the ping's to say).
    private func confirmSilence(of record: CVMRecord, silentFor silent: TimeInterval, on hypervisor: any Hypervisor,
                                channelOpenedAt: Date?) async {
        defer { release(record.id) }
        let state: DomainState?
        do {
            state = try await withDeadline(probeTimeout, "\(record.host)'s libvirtd") {
                try await hypervisor.lookupDomain(named: record.domainName)?.state()
            }
        } catch {
            // Busy or gone: the ping decides whether the host answers; asked again next tick.
            return
        }
        let silentText = String(format: "%.1f", silent)
        guard let state, state.isRunning else {
            await mark(record, .failed, reason: "no heartbeat for \(silentText) s and the domain is \(state.map { "\($0)" } ?? "gone") on \(record.host)")
            return
        }
        // A channel opened less than three intervals ago may not have carried a heartbeat yet.
        if let opened = channelOpenedAt, Date().timeIntervalSince(opened) > 3 * Double(record.intervalMs) / 1000 {
            await mark(record, .failed, reason: "no heartbeat for \(silentText) s while the domain runs on \(record.host) (agent hung)")
        }
    }

    /// Reads one channel until it closes. Heartbeats are written at most once per interval
    /// (the newest wins; see `writeDueHeartbeats`), rejected messages reported at most once
    /// per 10 s: what a guest sends, however much, costs the host a bounded amount of work.
    private func consume(_ watch: Watch, cvmID: String, interval: TimeInterval) async {
        for await event in watch.link.events {
            switch event {
            case .heartbeat(let hb, let newBoot):
                let now = Date()
                let due = state.withLock { s -> Bool in
                    if let written = s.writtenAt[cvmID], now.timeIntervalSince(written) < interval {
                        let earlierBoot = s.pending[cvmID]?.newBoot ?? false
                        s.pending[cvmID] = PendingBeat(heartbeat: hb, receivedAt: now, newBoot: newBoot || earlierBoot,
                                                       interval: interval, watch: watch)
                        return false
                    }
                    s.writtenAt[cvmID] = now
                    s.pending[cvmID] = nil
                    return true
                }
                if due { await record(hb, receivedAt: now, newBoot: newBoot, cvmID: cvmID, on: watch) }
            case .goodbye:
                logger.debug("agent said goodbye", metadata: ["cvm.id": "\(cvmID)"])
            case .rejected(let why):
                let now = Date()
                let count = state.withLock { s -> Int? in
                    var tally = s.rejected[cvmID] ?? Rejections()
                    tally.count += 1
                    defer { s.rejected[cvmID] = tally }
                    guard now.timeIntervalSince(tally.warnedAt) >= Self.rejectionWarningInterval else { return nil }
                    defer { tally.count = 0; tally.warnedAt = now }
                    return tally.count
                }
                if let count {
                    logger.warning("rejected messages on agent channel", metadata: [
                        "cvm.id": "\(cvmID)", "cvm.count": "\(count)", "cvm.reason": "\(why)",
                        "cvm.note": "at most one such warning per \(Int(Self.rejectionWarningInterval)) s"])
                }
            case .acknowledged:
                break
            case .closed:
                // Reopened on the next sweep, which also fails the CVM if its domain is gone.
                break
            }
        }
        state.withLock { s in
            if s.watches[cvmID]?.token == watch.token {
                s.watches.removeValue(forKey: cvmID)
                s.closedAt[cvmID] = Date()
            }
        }
    }

    /// Writes the heartbeats held back because their CVM's last write was less than an
    /// interval ago, once it is not.
    private func writeDueHeartbeats(now: Date) async {
        let due = state.withLock { s -> [(String, PendingBeat)] in
            var due: [(String, PendingBeat)] = []
            for (id, beat) in s.pending where now.timeIntervalSince(s.writtenAt[id] ?? .distantPast) >= beat.interval {
                due.append((id, beat))
                s.writtenAt[id] = now
            }
            for (id, _) in due { s.pending.removeValue(forKey: id) }
            return due
        }
        for (id, beat) in due {
            await record(beat.heartbeat, receivedAt: beat.receivedAt, newBoot: beat.newBoot, cvmID: id, on: beat.watch)
        }
    }

    /// Records one heartbeat: usage and liveness; a failed or unknown CVM heartbeating again
    /// is running (unless its agent holds a role the store no longer gives it).
    private func record(_ hb: Heartbeat, receivedAt: Date, newBoot: Bool, cvmID: String, on watch: Watch) async {
        let updated = try? await orchestrator.store.update(cvmID: cvmID) { r in
            r.apply(hb, at: receivedAt)
            guard r.state == .failed || r.state == .unknown else { return }
            if r.cluster != nil, r.agentRole != r.role {
                r.failure = "heartbeating again as \(hb.role); told to be \(r.role)"
            } else {
                r.state = .running
                r.failure = nil
            }
        }
        if let updated {
            if newBoot { logger.debug("agent boot", metadata: ["cvm.name": "\(updated.name)"]) }
            await enforceRole(updated, on: watch)
        }
    }

    /// A cluster member whose agent holds another role than the store gives it (an old
    /// master back from a lost host, a promotion its agent missed) is told its role and peers
    /// on the channel it just spoke on; at most once per heartbeat interval.
    private func enforceRole(_ record: CVMRecord, on watch: Watch) async {
        guard let cluster = record.cluster, record.agentRole != record.role else { return }
        let now = Date()
        let due = state.withLock { s -> Bool in
            if let last = s.configuredAt[record.id], now.timeIntervalSince(last) < Double(record.intervalMs) / 1000 { return false }
            s.configuredAt[record.id] = now
            return true
        }
        guard due, let members = try? await orchestrator.store.members(ofCluster: cluster) else { return }
        let peers = members.filter { $0.state == .running && $0.id != record.id }.map(\.name)
        if (try? await watch.link.send(.configure, role: record.role, peers: peers)) != nil {
            logger.warning("agent holds a role the store does not give it: told", metadata: [
                "cvm.name": "\(record.name)", "cvm.agentRole": "\(record.agentRole.map { "\($0)" } ?? "none")", "cvm.role": "\(record.role)"])
            await orchestrator.journal("cluster.fence", cvm: record.name, host: record.host,
                                       "cluster \(cluster): \(record.name) reported \(record.agentRole.map { "\($0)" } ?? "no role"); told to be \(record.role)")
        }
    }

    /// Removes a CVM that was replaced while its host was unreachable: its domain is
    /// destroyed and undefined, its volumes deleted, its row forgotten.
    private func fence(_ record: CVMRecord, on hypervisor: any Hypervisor) async {
        defer { release(record.id) }
        do {
            try await orchestrator.deployer.teardown(record, on: hypervisor, reason: "fenced: replaced while \(record.host) was unreachable")
            logger.warning("fenced a replaced CVM", metadata: ["cvm.name": "\(record.name)", "cvm.host": "\(record.host)"])
        } catch {
            logger.warning("cannot fence yet", metadata: ["cvm.name": "\(record.name)", "cvm.error": "\(error)"])
        }
    }

    /// Moves a CVM to `failed` (from running or unknown) or `unknown` (from running), with a
    /// journal entry when it changed.
    private func mark(_ record: CVMRecord, _ newState: CVMRecord.State, reason: String) async {
        let from: Set<CVMRecord.State> = newState == .failed ? [.running, .unknown] : [.running]
        let changed = (try? await orchestrator.store.update(cvmID: record.id) { r in
            guard from.contains(r.state) else { return }
            r.state = newState
            r.failure = reason
        })?.map { $0.state == newState && $0.failure == reason } ?? false
        guard changed else { return }
        if newState == .failed { wakeUp?.signal() }
        await orchestrator.journal(newState == .failed ? "cvm.failed" : "cvm.unknown", cvm: record.name, host: record.host, reason)
        logger.warning(newState == .failed ? "CVM failed" : "CVM state unknown",
                       metadata: ["cvm.name": "\(record.name)", "cvm.reason": "\(reason)"])
    }

    // MARK: Clusters

    /// A cluster member process in the monitor's process sends `configure` on the channel
    /// the monitor holds for the member (the agent's next heartbeat reports the new role)
    /// instead of taking the channel over; for a member it does not hold, it opens the channel
    /// itself. For code in the monitor's process (elastic mode).
    public var configurer: CVMOrchestrator.AgentConfigurer {
        { member, peers in
            let role = member.role
            if let watch = self.state.withLock({ $0.watches[member.id] }) {
                return (try? await watch.link.send(.configure, role: role, peers: peers)) != nil
            }
            return await self.orchestrator.configureAgent(member, peers: peers)
        }
    }

    /// Every cluster (those made by `cvmctl cluster` and those of policy tasks with a cluster
    /// size, whose members name it) that, in the records the sweep read, has a running servant
    /// and whose master is confirmed failed or gone. A master that is `unknown` (its host does
    /// not answer) is not replaced: that would make two masters when the host returns.
    private func promoteWhereMastersAreLost(_ records: [CVMRecord]) async throws {
        let members = Dictionary(grouping: records.filter { $0.cluster != nil }, by: { $0.cluster! })
        let leaderless = members.filter { _, members in
            !members.contains { $0.role == .master && !$0.state.isGone }
                && members.contains { $0.role == .servant && $0.state == .running }
        }
        for cluster in leaderless.keys.sorted() {
            if let promoted = try await orchestrator.promoteIfMasterLost(cluster: cluster, configurer: self.configurer) {
                wakeUp?.signal()
                logger.warning("cluster master lost: servant promoted", metadata: ["cvm.cluster": "\(cluster)", "cvm.name": "\(promoted)"])
            }
        }
    }

    // MARK: Lifecycle events

    private func handle(_ hostEvent: HostEvent) async {
        let event = hostEvent.event
        guard let record = try? await orchestrator.store.cvms().first(where: { $0.domainName == event.domainName && $0.host == hostEvent.host }),
              record.state == .running || record.state == .unknown else { return }
        await mark(record, .failed, reason: "libvirt: domain \(event.kind.rawValue) (detail \(event.detail))")
    }

    // MARK: Wording

    static func clock(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970) % 86_400
        return String(format: "%02d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }

    static func describe(_ error: any Error) -> String { "\(error)" }
}
