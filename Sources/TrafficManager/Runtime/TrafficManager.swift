import ConfigFile
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TMSCore

/// The traffic manager: the data plane on one event loop per core, the health monitors, the
/// usage monitors and the admin endpoint on a control loop, and the configuration in force.
///
/// Lifecycle: `start()` binds everything; `reload(_:)` applies a changed configuration without
/// dropping connections; `shutdown()` stops accepting, lets connections finish (at most the
/// drain timeout) and stops. `TrafficManagerService` runs it as a swift-service-lifecycle
/// service with SIGHUP reloads.
public final class TrafficManager: Sendable {
    public let cores: Int
    let dataPlane: DataPlane
    private let controlGroup: MultiThreadedEventLoopGroup
    let controlLoop: any EventLoop
    let monitors: MonitorSet
    let sampler: UsageSampler
    let logger: Logger
    /// The file reloads read (SIGHUP, `POST /reload`), if any.
    public let configFile: String?
    /// Applied to every configuration read from the file (a reload on SIGHUP or `POST
    /// /reload`) before it is used: `cvmctl tms run` puts the CVMs serving a vServer in place
    /// of the backends those CVMs forward to.
    private let prepare: @Sendable (TMSConfig) -> TMSConfig
    private let initial: TMSConfig
    private let state = Mutex(State())
    private let gate = AsyncGate()
    private let eventTap = AccessLogEventTap.Target()

    struct State {
        var table: RoutingTable?
        var listeners: [String: VServerListener] = [:]
        /// vServers removed by a reload whose connections may still be open.
        var draining: [VServerRuntime] = []
        var admin: AdminServer?
        var phase: Phase = .created
        /// Offloaded monitoring: the stream this process publishes or follows, and its settings.
        var monitoring = MonitoringConfig()
        var publisher: MonitorPublisher?
        var follower: MonitorFollower?
        /// The access log (from start; its file and spool are fixed then) and where it ships.
        var accessLog: AccessLog?
        var shipping: (address: HostPort, tls: TLSConfig?)?
        var shipper: AccessLogShipper?
        /// This process as a log collector.
        var collectorConfig: AccessLogConfig.Collector?
        var collector: LogCollector?
        /// The session store: this process's connection to one, and this process as a member.
        var sessionTarget: (address: HostPort, tls: TLSConfig?)?
        var sessionClient: SessionStoreClient?
        var sessionServerConfig: SessionStoreConfig.Server?
        var sessionServer: SessionStoreServer?
    }

    enum Phase { case created, running, stopping, stopped }

    /// - Parameters:
    ///   - cores: event loops for the data plane; default: the file's `cores`, else every core
    ///     of the machine.
    ///   - logger: where state changes are logged (default: nowhere).
    public init(config: TMSConfig, configFile: String? = nil, cores: Int? = nil,
                logger: Logger = Logger(label: "cvm.tms", factory: { _ in SwiftLogNoOpLogHandler() }),
                prepare: @escaping @Sendable (TMSConfig) -> TMSConfig = { $0 }) {
        self.cores = max(1, cores ?? config.cores ?? System.coreCount)
        self.prepare = prepare
        initial = prepare(config)
        self.configFile = configFile
        // Notices and worse also go to the access log as events, once it runs.
        var tapped = logger
        tapped.handler = MultiplexLogHandler([logger.handler, AccessLogEventTap(target: eventTap)])
        self.logger = tapped
        dataPlane = DataPlane(cores: self.cores)
        controlGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        controlLoop = controlGroup.next()
        monitors = MonitorSet(loop: controlLoop, logger: tapped)
        sampler = UsageSampler(config: config.usage, coreLoops: dataPlane.loops, control: controlLoop)
    }

    /// The session store's usage task (the vServers' persistence and stickiness tables).
    private let sessionUsage = SessionStoreUsage()

    // MARK: lifecycle

    /// Starts the event loops, listens on every vServer's address, starts the monitors and
    /// the admin endpoint. Throws (and leaves nothing running) if any address cannot be bound.
    public func start() async throws {
        var accessLog: AccessLog?
        if initial.accessLog.recordsConnections {
            do {
                accessLog = try AccessLog(config: initial.accessLog, cores: cores, logger: logger)
            } catch {
                throw TrafficManagerError.invalid("the access log's spool \(initial.accessLog.spool?.directory ?? "?") cannot be used: \(error)")
            }
            accessLog?.start()
            state.withLock { $0.accessLog = accessLog }
            eventTap.log.withLock { $0 = accessLog }
        }
        let notifierReasons = try await dataPlane.start(accessLog: accessLog)
        if let reason = notifierReasons.lazy.compactMap({ $0 }).first {
            logger.warning("raw sockets wake the data plane through a notifier thread (slower): \(reason)")
        }
        do {
            _ = try await gate.run { try await apply(initial) }
            if let address = initial.admin.address {
                guard let tokenFile = initial.admin.tokenFile else {
                    throw TrafficManagerError.invalid("the admin endpoint needs a token file (admin.tokenFile, or --admin-token-file)")
                }
                let token = try TokenFile.readOrCreate(path: tokenFile)
                // A scoped-tokens file must be private from the start (a later change is re-read).
                if let tokensFile = initial.admin.tokensFile {
                    do {
                        _ = try AdminTokens.load(path: tokensFile)
                    } catch {
                        throw TrafficManagerError.invalid("\(error)")
                    }
                }
                let admin = try await AdminServer.start(address: address, token: token, tokens: initial.admin.tokensFile.map(AdminTokenTable.init),
                                                        manager: self, loop: controlLoop)
                state.withLock { $0.admin = admin }
            }
        } catch {
            await stopEverything()
            throw error
        }
        state.withLock { $0.phase = .running }
        await sampleUsage()
        logger.info("traffic manager started", metadata: ["cvm.cores": "\(cores)", "cvm.vservers": "\(initial.vServers.count)"])
    }

    /// Applies `config`: new vServers start listening, changed ones take effect for new
    /// connections (quota reconfigured in place, so nothing admitted is forgotten), removed
    /// ones stop accepting and their live connections drain (closed after the drain timeout).
    /// On any error nothing changes.
    @discardableResult
    public func reload(_ config: TMSConfig) async throws -> ReloadSummary {
        guard state.withLock({ $0.phase == .running }) else { throw TrafficManagerError.notRunning }
        let summary = try await gate.run { try await apply(config) }
        logger.info("configuration reloaded", metadata: [
            "cvm.generation": "\(summary.generation)", "cvm.added": "\(summary.added)",
            "cvm.changed": "\(summary.changed)", "cvm.removed": "\(summary.removed)",
        ])
        return summary
    }

    /// Reads the configuration file again and applies it (SIGHUP, `POST /reload`).
    @discardableResult
    public func reloadFromFile() async throws -> ReloadSummary {
        guard let configFile else { throw TrafficManagerError.invalid("no configuration file to reload") }
        let config = try await Self.loadOffLoop(configFile)
        return try await reload(prepare(config))
    }

    /// Reads a configuration file on a thread of its own (file I/O never runs on an event
    /// loop or blocks the cooperative pool).
    static func loadOffLoop(_ file: String) async throws -> TMSConfig {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do throws(ConfigError) {
                    continuation.resume(returning: try TMSConfig.load(file: file))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// Stops accepting, waits for live connections to end (at most the drain timeout), closes
    /// what is left, and stops every loop. Idempotent.
    public func shutdown() async {
        let listeners: [VServerListener]? = state.withLock { state in
            guard state.phase == .running || state.phase == .created else { return nil }
            state.phase = .stopping
            return Array(state.listeners.values)
        }
        guard let listeners else { return }
        for listener in listeners { await listener.close() }
        let drainTimeout = state.withLock { $0.table?.config.drainTimeout } ?? initial.drainTimeout
        let deadline = MonotonicTime.nanos() &+ UInt64(drainTimeout.totalNanoseconds)
        var open = await dataPlane.openConnections()
        if open > 0 {
            logger.info("draining connections", metadata: ["cvm.open": "\(open)", "cvm.timeout": "\(DurationText.format(drainTimeout))"])
        }
        while open > 0 && MonotonicTime.nanos() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            open = await dataPlane.openConnections()
        }
        if open > 0 {
            logger.info("closing connections still open after the drain timeout", metadata: ["cvm.open": "\(open)"])
            await dataPlane.closeAll(at: MonotonicTime.nanos())
            let hardDeadline = MonotonicTime.nanos() &+ 2_000_000_000
            while await dataPlane.openConnections() > 0 && MonotonicTime.nanos() < hardDeadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        await stopEverything()
        logger.info("traffic manager stopped")
    }

    private func stopEverything() async {
        let (listeners, admin) = state.withLock { state in
            defer {
                state.listeners = [:]
                state.admin = nil
                state.phase = .stopped
            }
            return (Array(state.listeners.values), state.admin)
        }
        for listener in listeners { await listener.close() }
        await admin?.close()
        let (publisher, follower) = state.withLock { state in
            defer { state.publisher = nil; state.follower = nil; state.monitoring = MonitoringConfig() }
            return (state.publisher, state.follower)
        }
        await publisher?.close()
        await follower?.stop(monitors: monitors, logger: logger)
        await monitors.stop()
        await dataPlane.stop()
        let (accessLog, shipper, collector) = state.withLock { state in
            defer { state.shipper = nil; state.shipping = nil; state.collector = nil; state.collectorConfig = nil }
            return (state.accessLog, state.shipper, state.collector)
        }
        // What the connections' ends recorded reaches the file and the spool; the shipper
        // gets a moment to send it on.
        eventTap.log.withLock { $0 = nil }
        await accessLog?.stop()
        if let shipper, let spool = accessLog?.spool {
            shipper.wake()
            let deadline = ContinuousClock.now + .seconds(2)
            while spool.stats.unacknowledged > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        }
        await shipper?.stop()
        await collector?.close()
        let (sessionClient, sessionServer) = state.withLock { state in
            defer { state.sessionClient = nil; state.sessionTarget = nil; state.sessionServer = nil; state.sessionServerConfig = nil }
            return (state.sessionClient, state.sessionServer)
        }
        await sessionClient?.stop()
        await sessionServer?.close()
        try? await controlGroup.shutdownGracefully()
    }

    /// Samples usage every `usage.interval` until the task is cancelled.
    public func runUsageSampler() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: sampler.config.interval)
            guard state.withLock({ $0.phase == .running }) else { continue }
            await sampleUsage()
        }
    }

    // MARK: inspection

    /// Starts, stops or replaces the monitoring stream this process publishes or follows.
    private func applyMonitoring(_ wanted: MonitoringConfig) async throws {
        let (current, publisher, follower) = state.withLock { ($0.monitoring, $0.publisher, $0.follower) }
        guard current != wanted else { return }
        if current.publish != wanted.publish || current.publishTLS != wanted.publishTLS || wanted.publish == nil {
            await publisher?.close()
            state.withLock { $0.publisher = nil }
            if let address = wanted.publish {
                do {
                    let started = try await MonitorPublisher.start(address: address, tls: wanted.publishTLS, monitors: monitors)
                    state.withLock { $0.publisher = started }
                    logger.info("publishing the monitors' states", metadata: ["cvm.address": "\(started.address)"])
                } catch {
                    throw TrafficManagerError.bindFailed(vServer: "monitoring.publish", address: address, reason: "\(error)")
                }
            }
        }
        if current.follow != wanted.follow || current.followTLS != wanted.followTLS || wanted.follow == nil {
            await follower?.stop(monitors: monitors, logger: logger)
            state.withLock { $0.follower = nil }
            if let address = wanted.follow {
                let started = try await MonitorFollower.start(address: address, tls: wanted.followTLS, monitors: monitors, logger: logger)
                state.withLock { $0.follower = started }
            }
        }
        state.withLock { $0.monitoring = wanted }
    }

    /// Starts, stops or retargets the shipper (the spool stays: it belongs to the access log).
    private func applyShipping(_ wanted: AccessLogConfig) async throws {
        let (accessLog, current, shipper) = state.withLock { ($0.accessLog, $0.shipping, $0.shipper) }
        guard let spool = accessLog?.spool else { return }
        let target = wanted.ship.map { (address: $0, tls: wanted.shipTLS) }
        guard current?.address != target?.address || current?.tls != target?.tls else { return }
        await shipper?.stop()
        accessLog?.onSpooled.withLock { $0 = nil }
        state.withLock { $0.shipper = nil; $0.shipping = nil }
        guard let target else {
            if current != nil { logger.notice("access log: no collector; records stay in the spool") }
            return
        }
        let started = try await AccessLogShipper.start(address: target.address, tls: target.tls, spool: spool, loop: controlLoop, logger: logger)
        accessLog?.onSpooled.withLock { $0 = { started.wake() } }
        state.withLock { $0.shipper = started; $0.shipping = target }
    }

    /// Starts, stops or restarts this process's log collector.
    private func applyCollector(_ wanted: AccessLogConfig.Collector?) async throws {
        let (current, collector) = state.withLock { ($0.collectorConfig, $0.collector) }
        guard current != wanted else { return }
        await collector?.close()
        state.withLock { $0.collector = nil; $0.collectorConfig = nil }
        guard let wanted else { return }
        do {
            let started = try await LogCollector.start(wanted, logger: logger)
            state.withLock { $0.collector = started; $0.collectorConfig = wanted }
        } catch {
            throw TrafficManagerError.invalid("the log collector cannot start on \(wanted.device) at \(wanted.listen): \(error)")
        }
    }

    /// Connects to, or changes, the session store; starts, reconfigures (role) or stops this
    /// process as a member.
    private func applySessionStore(_ wanted: SessionStoreConfig) async throws {
        let (target, client, serverConfig, server) = state.withLock { ($0.sessionTarget, $0.sessionClient, $0.sessionServerConfig, $0.sessionServer) }
        let wantedTarget = wanted.connect.map { (address: $0, tls: wanted.tls) }
        if target?.address != wantedTarget?.address || target?.tls != wantedTarget?.tls {
            await client?.stop()
            state.withLock { $0.sessionClient = nil; $0.sessionTarget = nil }
            if let wantedTarget {
                let started = try await SessionStoreClient.start(address: wantedTarget.address, tls: wantedTarget.tls, loop: controlLoop, logger: logger) { [weak self] in
                    guard let table = self?.table else { return [:] }
                    return Dictionary(table.vServers.values.flatMap(\.sharedTables), uniquingKeysWith: { a, _ in a })
                }
                state.withLock { $0.sessionClient = started; $0.sessionTarget = wantedTarget }
            }
        }
        guard serverConfig != wanted.server else { return }
        if let server, let old = serverConfig, let new = wanted.server, old.listen == new.listen, old.tls == new.tls {
            // A new role (a promotion) or replica count: the same process, the same pins.
            try await server.configure(new)
            state.withLock { $0.sessionServerConfig = new }
            return
        }
        await server?.close()
        state.withLock { $0.sessionServer = nil; $0.sessionServerConfig = nil }
        guard let new = wanted.server else { return }
        do {
            let started = try await SessionStoreServer.start(new, logger: logger)
            state.withLock { $0.sessionServer = started; $0.sessionServerConfig = new }
        } catch {
            throw TrafficManagerError.invalid("the session store cannot listen on \(new.listen): \(error)")
        }
    }

    /// Where this process's session-store member listens.
    public var sessionStoreAddress: HostPort? { state.withLock { $0.sessionServer?.address } }
    public var sessionStoreServer: SessionStoreServer? { state.withLock { $0.sessionServer } }

    /// How this process's connection to the session store fares (nil: none configured).
    public var sessionStoreStatus: SessionStoreStatus? { state.withLock { $0.sessionClient?.status.withLock { $0 } } }

    /// Asks the session store for one pin (a round trip to the master).
    public func sessionStoreLookup(vServer: String, client: String) async throws -> String? {
        guard let store = state.withLock({ $0.sessionClient }) else { throw SessionStoreError("no session store configured") }
        return try await store.lookup(vServer: vServer, client: client)
    }

    /// The backup `client` is pinned to by vServer `vServer`'s spillover persistence, in this
    /// process's table (what routing reads; with a session store, a copy of the store's).
    public func persistedTarget(vServer: String, client: String) -> String? {
        self.vServer(vServer)?.persistence?.withLock { $0.target(for: client, now: MonotonicTime.now())?.name }
    }

    /// Where this process's log collector listens.
    public var collectorAddress: HostPort? { state.withLock { $0.collector?.address } }

    /// The access log, when connections are recorded.
    public var accessLog: AccessLog? { state.withLock { $0.accessLog } }

    /// The shipper's view of the collector (nil when records are not shipped).
    public var collectorStatus: (address: HostPort, connected: Bool, collectorID: String?, full: String?, summary: CollectorSummary)? {
        state.withLock { state in
            guard let shipper = state.shipper else { return nil }
            let status = shipper.status.withLock { $0 }
            return (shipper.address, status.connected, status.collectorID, status.full, status.summary)
        }
    }

    var accessLogStatus: AccessLogStatus? {
        guard let log = accessLog else { return nil }
        var status = AccessLogStatus(records: log.written, lost: log.lost, file: log.config.file)
        if let spool = log.spool {
            let stats = spool.stats
            status.spool = .init(directory: spool.directory, bytes: stats.bytes, highWaterBytes: stats.highWaterBytes, maxBytes: spool.maxBytes,
                                 records: stats.records, unacknowledged: stats.unacknowledged, lastSeq: stats.nextSeq - 1,
                                 acknowledged: stats.acknowledged, dropped: stats.dropped)
        }
        if let collector = collectorStatus {
            status.collector = .init(
                address: collector.address.description, connected: collector.connected, id: collector.collectorID, refusing: collector.full,
                vServers: collector.summary.vServers.mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.key.rawValue, $0.value) }) },
                topClients: collector.summary.topClients.map { .init(client: $0.client, records: $0.count) })
        }
        return status
    }

    /// Where the monitors' states are published (the kernel's port when 0 was configured).
    public var monitoringPublishAddress: HostPort? { state.withLock { $0.publisher?.address } }

    /// Every monitor's state now (what a monitoring CVM is handed).
    public func monitorStates() async -> [MonitorState] { await monitors.snapshot() }

    /// Whether this process's monitors are paused because it follows an offloaded copy.
    public var monitoringIsOffloaded: Bool { get async { await monitors.isRemote } }

    /// The configuration generation in force.
    public var table: RoutingTable? { state.withLock { $0.table } }

    /// Where vServer `name` listens (the kernel's port when the file said port 0).
    public func listeningAddress(of name: String) -> HostPort? {
        state.withLock { $0.listeners[name]?.bound }
    }

    /// Where the admin endpoint listens.
    public var adminAddress: HostPort? { state.withLock { $0.admin?.bound } }

    /// The running vServer `name` of the generation in force.
    public func vServer(_ name: String) -> VServerRuntime? { table?.vServers[name] }

    /// Takes a usage sample now (besides the periodic ones) and returns it.
    @discardableResult
    public func sampleUsage() async -> UsageReport {
        let (table, draining) = state.withLock { state in
            state.draining.removeAll { $0.usage.snapshot.active == 0 && $0.quota.totalInUse == 0 }
            return (state.table, state.draining)
        }
        var tasks: [String: TaskUsage] = [:]
        let vServers = Self.inForceAndDraining(table, draining)
        for vServer in vServers { tasks[vServer.usage.name] = vServer.usage }
        for task in monitors.tasks.withLock({ Array($0.values) }) { tasks[task.name] = task }
        if let log = accessLog { tasks[log.usage.name] = log.usage }
        var seen: Set<ObjectIdentifier> = []
        let tables = vServers.flatMap(\.sharedTables).map(\.1)
            .filter { seen.insert(ObjectIdentifier($0)).inserted }
        if sessionUsage.update(tables: tables) { tasks[sessionUsage.usage.name] = sessionUsage.usage }
        return await sampler.sample(tasks: Array(tasks.values), generation: table?.generation ?? 0)
    }

    /// The latest usage sample.
    public var latestUsage: UsageReport? { sampler.latest }

    /// Quota, services and monitors of the vServers in force and draining.
    public func status() async -> StatusReport {
        let (table, listeners, draining) = state.withLock { ($0.table, $0.listeners, $0.draining) }
        var vServers = (table?.config.vServers ?? []).compactMap { config in
            table?.vServers[config.name]?.status(listening: listeners[config.name]?.bound, draining: false)
        }
        vServers += draining.map { $0.status(listening: nil, draining: true) }
        var report = StatusReport(generation: table?.generation ?? 0, cores: cores, vServers: vServers,
                                  monitors: await monitors.statuses())
        report.accessLog = accessLogStatus
        return report
    }

    /// The vServers of the generation in force, then those draining.
    private static func inForceAndDraining(_ table: RoutingTable?, _ draining: [VServerRuntime]) -> [VServerRuntime] {
        (table.map { Array($0.vServers.values) } ?? []) + draining
    }

    /// Prometheus text for `/metrics`: the last usage sample, and the quota, services and
    /// counters as they are now.
    public func metricsText() async -> String {
        let (table, draining) = state.withLock { ($0.table, $0.draining) }
        let services = Self.inForceAndDraining(table, draining).flatMap { vServer in
            vServer.services.map { MetricsExporter.Service(vServer: vServer.config.name, runtime: $0) }
        }
        return MetricsExporter().render(report: sampler.latest, status: await status(), services: services)
    }

    // MARK: applying a configuration

    private func apply(_ config: TMSConfig) async throws -> ReloadSummary {
        let (old, oldListeners) = state.withLock { ($0.table, $0.listeners) }
        // The core count is fixed at start (the command line may have overridden the file's):
        // a reloaded file may not ask for another one.
        if old != nil, let requested = config.cores, requested != initial.cores, requested != cores {
            throw TrafficManagerError.coreCountChange(running: cores, requested: requested)
        }
        let generation = (old?.generation ?? 0) + 1
        let summary = ReloadSummary.diff(from: old?.config, to: config, generation: generation)

        // 1. Listen where needed (nothing is accepted there until the table is published).
        var listeners: [String: VServerListener] = [:]
        var opened: [VServerListener] = []
        do {
            for vServer in config.vServers {
                guard let bind = vServer.bind else { continue }
                // Without TLS, TCP and per-request HTTP listen on raw sockets (see `VServerListener`).
                let polled = vServer.tls == nil && (vServer.mode == .tcp || vServer.routing == .request)
                if let existing = oldListeners[vServer.name], existing.configured == bind, existing.isPolled == polled {
                    listeners[vServer.name] = existing
                    continue
                }
                do {
                    let listener = try await VServerListener.bind(name: vServer.name, address: bind, polled: polled,
                                                                        dataPlane: dataPlane)
                    opened.append(listener)
                    listeners[vServer.name] = listener
                } catch {
                    throw TrafficManagerError.bindFailed(vServer: vServer.name, address: bind, reason: "\(error)")
                }
            }
        } catch {
            for listener in opened { await listener.close() }
            throw error
        }

        // 2. The runtimes; a vServer that exists already keeps its quota (reconfigured).
        let table: RoutingTable
        var restore: [(VServerQuota, PoolConfig)] = []
        do {
            var runtimes: [String: VServerRuntime] = [:]
            for vServer in config.vServers {
                let previous = old?.vServers[vServer.name]
                let services = try vServer.services.map { service in
                    let carried = previous?.services.first { $0.config.name == service.name && $0.config.address == service.address }
                    return try ServiceRuntime(service, up: vServer.monitor == nil ? true : (carried?.isUp ?? service.initiallyUp),
                                              cores: dataPlane.loops.count, counters: carried?.counters)
                }
                if let previous { restore.append((previous.quota, previous.quota.config)) }
                runtimes[vServer.name] = try VServerRuntime(
                    config: vServer, dataPlane: dataPlane, reusing: previous?.quota,
                    usage: previous?.usage.task == vServer.task ? previous?.usage : nil, services: services)
            }
            // Pins outlive a reload; with a session store, the pins made go to it from the start.
            for (name, runtime) in runtimes {
                let previousTables = Dictionary(old?.vServers[name]?.sharedTables ?? [], uniquingKeysWith: { a, _ in a })
                for (key, table) in runtime.sharedTables {
                    table.shared.store(config.sessionStore.connect != nil, ordering: .relaxed)
                    guard let previous = previousTables[key] else { continue }
                    let pins = previous.withLock { $0.pins }
                    table.withLock { table in
                        for pin in pins { table.pin(client: pin.client, target: pin.target, until: pin.expires) }
                    }
                }
            }
            table = try RoutingTable(generation: generation, config: config, vServers: runtimes)
        } catch {
            for (quota, config) in restore { _ = try? quota.reconfigure(config) }
            for listener in opened { await listener.close() }
            throw TrafficManagerError.invalid("\(error)")
        }

        // 3. Every core routes new connections with the new table; monitors follow it.
        try await dataPlane.publish(table)
        for listener in opened { try await listener.startAccepting() }
        for vServer in table.vServers.values { vServer.deliverServedWaiters() }
        try await monitors.apply(table)
        try await applyMonitoring(config.monitoring)
        try await applyShipping(config.accessLog)
        try await applyCollector(config.accessLog.collector)
        try await applySessionStore(config.sessionStore)

        // 4. Removed vServers drain; sockets no longer wanted close.
        let drainDeadline = MonotonicTime.nanos() &+ UInt64(config.drainTimeout.totalNanoseconds)
        let removed = summary.removed.compactMap { old?.vServers[$0] }
        for vServer in removed { vServer.drainDeadline.store(max(1, drainDeadline), ordering: .relaxed) }
        for (name, listener) in oldListeners where listeners[name] !== listener { await listener.close() }
        state.withLock { state in
            state.table = table
            state.listeners = listeners
            state.draining += removed
        }
        return summary
    }
}
