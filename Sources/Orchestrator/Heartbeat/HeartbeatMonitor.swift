import Libvirt
import CVMProtocol
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Watches every running CVM: holds each agent's channel open, records authenticated
/// heartbeats and usage in the store, and marks a CVM `failed` when its heartbeats stop
/// for three intervals, its channel dies, or libvirt reports its domain stopped or crashed.
///
/// A `Service`: `run()` owns the loop; graceful shutdown closes the channels (the agents
/// keep running) and stops.
public final class HeartbeatMonitor: Service, Sendable {
    let orchestrator: CVMOrchestrator
    let logger: Logger
    let tick: Duration
    private let watched = Mutex<[String: Watch]>([:])          // cvm id -> open channel
    private let registrations = Mutex<[String: EventRegistration]>([:]) // host -> lifecycle events
    /// When this monitor first saw each CVM it watches: silence is counted from the later of
    /// the last heartbeat and that moment, so a monitor that starts after a pause does not
    /// declare every CVM failed before it has even opened their channels.
    private let watchingSince = Mutex<[String: Date]>([:])
    /// Lifecycle events as libvirt's event thread delivers them: that thread only queues them
    /// here; `run()` reads the store and marks failures on its own task.
    private let lifecycle = AsyncStream<HostEvent>.makeStream(bufferingPolicy: .bufferingNewest(4096))

    struct HostEvent: Sendable {
        let host: String
        let event: LifecycleEvent
    }

    struct Watch: Sendable {
        let channel: AgentChannel
        let host: String
    }

    public init(orchestrator: CVMOrchestrator, tick: Duration = .milliseconds(250), logger: Logger) {
        self.orchestrator = orchestrator
        self.tick = tick
        self.logger = logger
    }

    public func run() async throws {
        let store = orchestrator.store
        let pid = getpid()
        let started = Date()
        try await store.monitorTick(pid: pid, startedAt: started)
        logger.info("heartbeat monitor started", metadata: ["cvm.state": "\(orchestrator.configuration.stateDirectory)"])
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await hostEvent in self.lifecycle.stream { await self.handle(hostEvent) }
            }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await store.monitorTick(pid: pid, startedAt: started)
                    let records = try await sweep(group: &group)
                    try await promoteWhereMastersAreLost(records)
                } catch is CancellationError {
                    // Stopping: the loop ends.
                } catch {
                    logger.warning("monitor sweep failed", metadata: ["cvm.error": "\(error)"])
                }
                try? await Task.sleep(for: tick)
            }
            for (_, watch) in watched.withLock({ $0 }) { watch.channel.close() }
            lifecycle.continuation.finish()
            group.cancelAll()
        }
        // Also after a cancellation (the graceful shutdown took too long): `status` must not
        // report a monitor that has stopped.
        try? await withoutCancellation { try await store.clearMonitor(pid: pid) }
        logger.info("heartbeat monitor stopped")
    }

    /// One pass: open channels for running CVMs, drop those no longer watched, expire
    /// silent ones.
    /// Returns the CVM records it read (as they were before this sweep's own updates).
    private func sweep(group: inout DiscardingTaskGroup) async throws -> [CVMRecord] {
        let store = orchestrator.store
        let now = Date()
        let records = try await store.cvms()
        let watchable = records.filter { $0.state == .running || $0.state == .failed }
        let ids = Set(watchable.map(\.id))

        // Forget channels of CVMs that left the running set (decommission, migration).
        let stale = watched.withLock { w in w.filter { !ids.contains($0.key) } }
        let since = watchingSince.withLock { seen in
            seen = seen.filter { ids.contains($0.key) }
            for id in ids where seen[id] == nil { seen[id] = now }
            return seen
        }
        for (id, watch) in stale {
            watch.channel.close()
            _ = watched.withLock { $0.removeValue(forKey: id) }
        }

        for record in watchable {
            // Silence: three intervals without a heartbeat.
            if record.state == .running, let heard = record.lastHeartbeatAt ?? record.startedAt,
               case let last = max(heard, since[record.id] ?? now),
               now.timeIntervalSince(last) > 3 * Double(record.intervalMs) / 1000 {
                await markFailed(record, reason: "no heartbeat for \(String(format: "%.1f", now.timeIntervalSince(last))) s")
            }
            guard watched.withLock({ $0[record.id] }) == nil, let secret = Hex.decode(record.secret) else { continue }
            guard let host = try await store.host(named: record.host) else { continue }
            do {
                let opened = try await LibvirtExecutor.run { () -> AgentChannel? in
                    let connection = try self.orchestrator.connection(to: host)
                    try self.watchLifecycle(host: host.name, connection: connection)
                    guard let domain = try connection.lookupDomain(name: record.domainName), domain.isActive else { return nil }
                    return try AgentChannel(domain: domain, cvmID: record.id, secret: secret)
                }
                guard let channel = opened else {
                    if record.state == .running { await markFailed(record, reason: "domain is not running") }
                    continue
                }
                watched.withLock { $0[record.id] = Watch(channel: channel, host: host.name) }
                let id = record.id
                group.addTask { await self.consume(channel, cvmID: id) }
            } catch {
                // Typically: deploy still holds the channel, or the host is unreachable. Retry next tick.
                logger.trace("cannot open agent channel yet", metadata: ["cvm.name": "\(record.name)", "cvm.error": "\(error)"])
            }
        }
        return records
    }

    /// A cluster whose master failed gets a new one at once (a running servant); replacing
    /// the lost member is `cvmctl cluster heal`'s work (it deploys).
    /// Delivers `configure` on the channel this monitor holds for the member (the agent's next
    /// heartbeat reports the new role) instead of taking the channel over; for a member it does
    /// not hold, opens the channel itself. For code in the monitor's process (elastic mode).
    public var configurer: CVMOrchestrator.AgentConfigurer {
        { member, peers in
            let role = member.role
            if let watch = self.watched.withLock({ $0[member.id] }) {
                return (try? watch.channel.send(.configure, role: role, peers: peers)) != nil
            }
            return await self.orchestrator.configureAgent(member, peers: peers)
        }
    }

    /// Every cluster (those made by `cvmctl cluster` and those of policy tasks with a cluster
    /// size, whose members name it) that, in the records the sweep read, has a running servant
    /// but no running master. A master the sweep itself just failed is seen on the next tick.
    private func promoteWhereMastersAreLost(_ records: [CVMRecord]) async throws {
        let members = Dictionary(grouping: records.filter { $0.cluster != nil }, by: { $0.cluster! })
        let leaderless = members.filter { _, members in
            !members.contains { $0.role == .master && $0.state == .running }
                && members.contains { $0.role == .servant && $0.state == .running }
        }
        for cluster in leaderless.keys.sorted() {
            if let promoted = try await orchestrator.promoteIfMasterLost(cluster: cluster, configurer: self.configurer) {
                logger.warning("cluster master lost: servant promoted", metadata: ["cvm.cluster": "\(cluster)", "cvm.name": "\(promoted)"])
            }
        }
    }

    /// Reads one channel until it closes.
    private func consume(_ channel: AgentChannel, cvmID: String) async {
        let store = orchestrator.store
        for await event in channel.events {
            switch event {
            case .heartbeat(let hb, let newBoot):
                let now = Date()
                let updated = try? await store.update(cvmID: cvmID) { r in
                    r.apply(hb, at: now)
                    if r.state == .failed {
                        r.state = .running
                        r.failure = nil
                    }
                }
                if newBoot, let updated { logger.debug("agent boot", metadata: ["cvm.name": "\(updated.name)"]) }
            case .goodbye:
                logger.debug("agent said goodbye", metadata: ["cvm.id": "\(cvmID)"])
            case .rejected(let why):
                logger.warning("rejected message on agent channel", metadata: ["cvm.id": "\(cvmID)", "cvm.reason": "\(why)"])
            case .acknowledged:
                break
            case .closed(let why):
                if let record = try? await store.cvm(id: cvmID), record.state == .running {
                    // A stopping or migrating CVM closes its channel on purpose.
                    if let domainGone = try? await domainNotRunning(record), domainGone {
                        await markFailed(record, reason: "agent channel closed and the domain stopped (\(why))")
                    }
                }
            }
        }
        _ = watched.withLock { $0.removeValue(forKey: cvmID) }
    }

    private func domainNotRunning(_ record: CVMRecord) async throws -> Bool {
        guard let host = try await orchestrator.store.host(named: record.host) else { return true }
        return try await LibvirtExecutor.run {
            guard let d = try self.orchestrator.connection(to: host).lookupDomain(name: record.domainName) else { return true }
            return !(try d.state().isRunning)
        }
    }

    /// Lifecycle events: a stopped or crashed domain under a running CVM fails it at once.
    /// The callback runs on libvirt's event thread and only queues the event (no store I/O
    /// there: that thread also delivers every other connection's events).
    private func watchLifecycle(host: String, connection: LibvirtConnection) throws {
        if registrations.withLock({ $0[host] }) != nil { return }
        let continuation = lifecycle.continuation
        let registration = try connection.onLifecycleEvents { event in
            guard event.kind == .stopped || event.kind == .crashed, !event.isMigratedAway else { return }
            continuation.yield(HostEvent(host: host, event: event))
        }
        registrations.withLock { $0[host] = registration }
    }

    private func handle(_ hostEvent: HostEvent) async {
        let event = hostEvent.event
        guard let record = try? await orchestrator.store.cvms().first(where: { $0.domainName == event.domainName && $0.host == hostEvent.host }),
              record.state == .running else { return }
        await markFailed(record, reason: "libvirt: domain \(event.kind.rawValue) (detail \(event.detail))")
    }

    private func markFailed(_ record: CVMRecord, reason: String) async {
        let changed = (try? await orchestrator.store.update(cvmID: record.id) { r in
            guard r.state == .running else { return }
            r.state = .failed
            r.failure = reason
        })?.map { $0.state == .failed && $0.failure == reason } ?? false
        if changed {
            await orchestrator.journal("cvm.failed", cvm: record.name, host: record.host, reason)
            logger.warning("CVM failed", metadata: ["cvm.name": "\(record.name)", "cvm.reason": "\(reason)"])
        }
    }
}
