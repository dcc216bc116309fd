import CVMProtocol
import Foundation
import Logging
import Orchestrator
import ServiceLifecycle
import Synchronization
import TrafficManager

/// The bridge between the traffic manager and its CVMs: for every vServer with a `cvm` key,
/// five times a second (and at once when a CVM starts serving), it reads the orchestrator's store for the running CVMs of that task,
/// sends each one that does not serve yet its data plane's configuration (`serve`, over the
/// signed agent channel), and makes the serving ones — heartbeat fresh, address leased — the
/// vServer's services, reloading the traffic manager without a restart when that set
/// changes. A CVM that fails, stops heartbeating or is decommissioned leaves the set at the
/// next pass; spilled connections then go down the chain.
struct CVMBackends: Service {
    /// The configuration as read from the file (CVM vServers with their CVMs' backends) and
    /// the CVM services applied last; shared with the traffic manager's file reloads.
    final class State: Sendable {
        let base: Mutex<TMSConfig>
        let applied = Mutex<Applied?>(nil)
        /// When each CVM was last sent `serve`, by name and variant (`NAME/tls`, `NAME/plain`).
        let lastSent = Mutex<[String: ContinuousClock.Instant]>([:])
        /// Whether each CVM was last served with TLS (the configuration it runs), by name.
        let servedTLS = Mutex<[String: Bool]>([:])
        /// When each CVM was last seen migrating (by id).
        let lastMigrating = Mutex<[String: Date]>([:])
        /// CVMs served the monitoring configuration (task `monitoring.cvm`), by name: the digest
        /// of the definitions served (monitors, services, variant; without the states handed
        /// over), so a reload that changes them serves the CVM again.
        let monitoringServed = Mutex<[String: UInt64]>([:])
        /// Monitoring CVMs on public hosts whose monitors cannot go through the relays (said once).
        let monitoringRefused = Mutex<Set<String>>([])
        /// CVMs served the log collector's configuration (task `accessLog.cvm`), by name.
        let collectorServed = Mutex<Set<String>>([])
        /// Session-store members (cluster `sessionStore.cvm`) and the role each was served:
        /// `master`, or `servant of ADDRESS`.
        let sessionServed = Mutex<[String: String]>([:])
        /// The traffic manager's own certificate for the segment (issued on first need).
        let ownTLS = Mutex<TLSConfig?>(nil)
        /// Signalled when a CVM starts serving: the next pass comes at once.
        let wakeUp = WakeUp()
        init(_ config: TMSConfig) { base = Mutex(config) }

        /// What the traffic manager runs besides the file: each CVM vServer's serving CVMs, and
        /// the return relays for those on public hosts.
        struct Applied: Equatable {
            var endpoints: [String: [ServiceConfig]]
            var relayed: Set<String>
            var gateway: String
            var relayTLS: TLSConfig?
            /// The monitoring CVM followed (when the file offloads monitoring), and how.
            var follow: HostPort?
            var followTLS: TLSConfig?
            /// Set while the monitoring CVM is on a public host: its probe relays' TLS.
            var probeRelayTLS: TLSConfig?
            /// The log-collector CVM shipped to (when the file offloads the access log).
            var ship: HostPort?
            var shipTLS: TLSConfig?
            /// The session-store master connected to (when the file shares persistence).
            var sessionMaster: HostPort?

            /// The relays first: they relay to the services of the file, which the CVM endpoints
            /// then replace in the CVM vServers themselves.
            func apply(to config: TMSConfig) -> TMSConfig {
                var result = config
                if let relayTLS, !relayed.isEmpty { result = result.withCVMReturnRelays(for: relayed, gateway: gateway, tls: relayTLS) }
                if let probeRelayTLS { result = result.withMonitoringRelays(gateway: gateway, tls: probeRelayTLS) }
                result = result.withCVMServices(endpoints)
                if config.monitoring.cvm != nil {
                    result.monitoring.follow = follow
                    result.monitoring.followTLS = follow == nil ? nil : followTLS
                }
                if config.sessionStore.cvm != nil {
                    result.sessionStore.connect = sessionMaster
                    result.sessionStore.tls = sessionMaster == nil ? nil : shipTLS ?? followTLS ?? relayTLS
                }
                if config.accessLog.cvm != nil {
                    result.accessLog.ship = ship
                    result.accessLog.shipTLS = ship == nil ? nil : shipTLS
                }
                return result
            }
        }

        /// A configuration read from the file, as the traffic manager runs it.
        func adopt(_ config: TMSConfig) -> TMSConfig {
            base.withLock { $0 = config }
            return applied.withLock { $0 }?.apply(to: config) ?? config.withCVMServices([:])
        }
    }

    let manager: TrafficManager
    let orchestrator: CVMOrchestrator
    let logger: Logger
    let state: State

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                while !Task.isCancelled {
                    await self.pass(group: &group)
                    await state.wakeUp.wait(seconds: 0.2)
                }
                group.cancelAll()
            }
        }
        if let applied = state.applied.withLock({ $0 }), !applied.relayed.isEmpty || applied.probeRelayTLS != nil { ReturnRelayFirewall.remove() }
    }

    /// The traffic manager's certificate on the segment (issued once per run).
    private func ownTLS(gateway: String) -> TLSConfig? {
        if let known = state.ownTLS.withLock({ $0 }) { return known }
        do {
            let files = try DataPlaneTLS(stateDirectory: orchestrator.configuration.stateDirectory).trafficManager(gateway: gateway)
            let tls = TLSConfig(certificate: files.certificate, key: files.key, ca: files.ca)
            state.ownTLS.withLock { $0 = tls }
            return tls
        } catch {
            logger.error("cannot issue the traffic manager's TLS certificate; CVMs on public hosts are not used", metadata: ["cvm.error": "\(error)"])
            return nil
        }
    }

    /// The TLS files in the guest (written by its agent from its disk) and the traffic
    /// manager's address on the segment.
    static func guestTLS(gateway: String) -> CVMGuestTLS {
        CVMGuestTLS(gateway: gateway, certificate: DataPlaneTLS.guestPath(DataPlaneTLS.certificateFile),
                    key: DataPlaneTLS.guestPath(DataPlaneTLS.keyFile), ca: DataPlaneTLS.guestPath(DataPlaneTLS.caFile))
    }

    /// One look at the store: serve the CVMs that need it, apply the serving set.
    ///
    /// A CVM on a host of trust `public` is served the TLS variant of its configuration (see
    /// `TMSConfig.cvmDataPlaneYAML(for:tls:)`), is connected to over mutual TLS, and reaches the
    /// services through this traffic manager's return relays; one whose host's trust changed
    /// under it (a migration) is served again in the other variant, and is left out of the
    /// vServer's services until that is done.
    func pass(group: inout TaskGroup<Void>) async {
        let config = state.base.withLock { $0 }
        guard !config.cvmVServers.isEmpty || config.monitoring.cvm != nil || config.accessLog.cvm != nil || config.sessionStore.cvm != nil,
              let records = try? await orchestrator.store.cvms(),
              let leases = try? await orchestrator.store.addressLeases(),
              let hosts = try? await orchestrator.store.hosts() else { return }
        let publicHosts = Set(hosts.filter { $0.trust == .public }.map(\.name))
        let gateway = IPv4Subnet.format(orchestrator.configuration.cvmSubnet.gateway)
        let addresses = Dictionary(leases.map { ($0.cvmID, $0.address) }, uniquingKeysWith: { a, _ in a })
        let now = Date()
        var endpoints: [String: [ServiceConfig]] = [:]
        var relayed: Set<String> = []
        var own: TLSConfig?
        for vServer in config.cvmVServers {
            guard let backend = vServer.cvm else { continue }
            var serving: [ServiceConfig] = []
            for record in records.sorted(by: { $0.name < $1.name })
            where record.task == backend.task && (record.state == .running || record.state == .migrating) {
                guard let address = addresses[record.id] else { continue }
                let wantsTLS = publicHosts.contains(record.host)
                if wantsTLS {
                    guard let tls = own ?? ownTLS(gateway: gateway) else { continue }
                    own = tls
                    relayed.insert(vServer.name)
                }
                guard let yaml = TMSConfig.cvmDataPlaneYAML(for: vServer, tls: wantsTLS ? Self.guestTLS(gateway: gateway) : nil) else { continue }
                // Failures are the heartbeat monitor's to confirm (it marks the CVM failed
                // within three intervals, or at once on a QEMU exit); a heartbeat silent for
                // 10 s is only the backstop for when no monitor runs. A CVM being live-migrated
                // keeps its address and its connections while its heartbeats pause for the
                // switch-over, and until the monitor has its channel again on the new host.
                // (A migration may take longer than 10 s: the clock restarts when it ends.)
                if record.state == .migrating { state.lastMigrating.withLock { $0[record.id] = now } }
                let lastSign = [record.lastHeartbeatAt, state.lastMigrating.withLock { $0[record.id] }].compactMap { $0 }.max()
                let fresh = record.state == .migrating
                    || lastSign.map { now.timeIntervalSince($0) < max(10, 3 * Double(record.intervalMs) / 1000) } ?? false
                let servedTLS = state.servedTLS.withLock { $0[record.name] }
                // What it runs (the digest its heartbeats carry) is what this file gives it, or it
                // is served again: a reload that changed the vServer reaches its CVMs. Meanwhile
                // it keeps serving with what it has.
                let current = record.servedConfig == Int64(bitPattern: ServiceReport.configDigest(of: yaml))
                if record.serving == true, fresh, servedTLS == wantsTLS {
                    serving.append(ServiceConfig(name: record.name, address: HostPort(host: address, port: backend.port),
                                                 capacity: backend.capacity, tls: wantsTLS ? own : nil))
                }
                if record.state == .running, record.serving != true || servedTLS != wantsTLS || !current {
                    sendServe(record.name, role: .vServer(vServer.name), yaml: yaml, tls: wantsTLS, group: &group)
                }
            }
            endpoints[vServer.name] = serving
        }
        // Offloaded monitoring: the first running CVM of the task (by name) is handed the
        // monitors with their current states; once it serves that, it is followed.
        // On a public host its probes go through this traffic manager's probe relays, in TLS:
        // the relays are in force before it is served (its monitors start at once).
        var follow: HostPort?
        var probeRelays = false
        if let offload = config.monitoring.cvm,
           let record = records.filter({ $0.task == offload.task && $0.state == .running && addresses[$0.id] != nil })
               .min(by: { $0.name < $1.name }),
           let address = addresses[record.id], let tls = own ?? ownTLS(gateway: gateway) {
            own = tls
            let onPublic = publicHosts.contains(record.host)
            if onPublic, let problem = config.publicMonitoringProblem {
                if state.monitoringRefused.withLock({ $0.insert(record.name).inserted }) {
                    let line = "monitoring CVM \(record.name) is on public host \(record.host): \(problem); monitoring stays with the traffic manager"
                    logger.error("\(line)")
                    _ = try? await orchestrator.store.record(EventRecord(kind: "tms.serve-refused", cvm: record.name, message: line))
                }
            } else {
                probeRelays = onPublic
                let fresh = record.lastHeartbeatAt.map { now.timeIntervalSince($0) < max(10, 3 * Double(record.intervalMs) / 1000) } ?? false
                let definition = ServiceReport.configDigest(of: config.cvmMonitoringYAML(
                    states: [], port: offload.port, tls: Self.guestTLS(gateway: gateway), relayed: onPublic))
                if record.serving == true, fresh, state.monitoringServed.withLock({ $0[record.name] }) == definition {
                    follow = HostPort(host: address, port: offload.port)
                } else if !onPublic || state.applied.withLock({ $0?.probeRelayTLS != nil }) {
                    let yaml = config.cvmMonitoringYAML(states: await manager.monitorStates(), port: offload.port,
                                                        tls: Self.guestTLS(gateway: gateway), relayed: onPublic)
                    sendServe(record.name, role: .monitoring(definition: definition), yaml: yaml, tls: true, group: &group)
                }
            }
        }
        // The offloaded access log: the first CVM of the task (by name) is served a collector;
        // once it serves, records are shipped to it (while it migrates too: its address stays).
        var ship: HostPort?
        if let offload = config.accessLog.cvm,
           let record = records.filter({ $0.task == offload.task && ($0.state == .running || $0.state == .migrating) && addresses[$0.id] != nil })
               .min(by: { $0.name < $1.name }),
           let address = addresses[record.id], let tls = own ?? ownTLS(gateway: gateway) {
            own = tls
            if record.serving == true, state.collectorServed.withLock({ $0.contains(record.name) }) {
                ship = HostPort(host: address, port: offload.port)
            } else if record.state == .running {
                sendServe(record.name, role: .logCollector, yaml: config.cvmCollectorYAML(port: offload.port, tls: Self.guestTLS(gateway: gateway)),
                          tls: true, group: &group)
            }
        }
        // The session-store cluster: each member is served its role (the master, or a servant
        // copying it); a promotion changes the roles, and the members are served again. Once the
        // master serves as master, this traffic manager connects to it.
        var sessionMaster: HostPort?
        if let store = config.sessionStore.cvm,
           let master = records.first(where: { $0.cluster == store.cluster && $0.role == .master && ($0.state == .running || $0.state == .migrating) }),
           let masterAddress = addresses[master.id], let tls = own ?? ownTLS(gateway: gateway) {
            own = tls
            let masterEnd = HostPort(host: masterAddress, port: store.port)
            for record in records where record.cluster == store.cluster && record.state == .running && addresses[record.id] != nil {
                let wanted = record.id == master.id ? "master" : "servant of \(masterEnd)"
                let served = state.sessionServed.withLock { $0[record.name] }
                if served == wanted, record.serving == true { continue }
                let yaml = config.cvmSessionStoreYAML(port: store.port, replicaOf: record.id == master.id ? nil : masterEnd,
                                                      tls: Self.guestTLS(gateway: gateway))
                // Another traffic manager sharing the cluster may have served it just that.
                if record.serving == true, record.servedConfig == Int64(bitPattern: ServiceReport.configDigest(of: yaml)) {
                    state.sessionServed.withLock { $0[record.name] = wanted }
                    continue
                }
                sendServe(record.name, role: .sessionStore(wanted), yaml: yaml, tls: true, group: &group)
            }
            if master.serving == true, state.sessionServed.withLock({ $0[master.name] }) == "master" { sessionMaster = masterEnd }
        }
        var shipTLS: TLSConfig? = nil
        if ship != nil || sessionMaster != nil { shipTLS = own }
        let next = State.Applied(endpoints: endpoints, relayed: relayed, gateway: gateway, relayTLS: relayed.isEmpty ? nil : own,
                                 follow: follow, followTLS: follow == nil ? nil : own, probeRelayTLS: probeRelays ? own : nil,
                                 ship: ship, shipTLS: shipTLS, sessionMaster: sessionMaster)
        let previous = state.applied.withLock { current -> State.Applied?? in
            guard current != next else { return .none }
            defer { current = next }
            return .some(current)
        }
        guard case .some(let before) = previous else { return }
        do {
            func relayPorts(_ applied: State.Applied?) -> [Int] {
                guard let applied else { return [] }
                return config.cvmReturnPorts(for: applied.relayed) + (applied.probeRelayTLS == nil ? [] : config.monitoringRelayPorts)
            }
            let ports = relayPorts(next)
            if ports != relayPorts(before ?? nil) {
                try ReturnRelayFirewall.apply(gateway: gateway, ports: ports)
            }
            _ = try await manager.reload(next.apply(to: config))
            if config.sessionStore.cvm != nil, before?.sessionMaster != next.sessionMaster {
                logger.notice("\(next.sessionMaster.map { "session store: persistence shared through the master at \($0)" } ?? "session store: no master serves; persistence goes on with the local tables")")
            }
            if config.accessLog.cvm != nil, before?.ship != next.ship {
                logger.notice("\(next.ship.map { "access log shipped to the log-collector CVM at \($0)" } ?? "access log: no log-collector CVM serves; records stay in the spool")")
            }
            if config.monitoring.cvm != nil, before?.follow != next.follow {
                logger.notice("\(next.follow.map { "monitoring offloaded to the CVM at \($0)" } ?? "monitoring: no monitoring CVM serves; this traffic manager's monitors run")")
            }
            for (name, services) in endpoints.sorted(by: { $0.key < $1.key }) {
                logger.notice("CVM services of vServer \(name): \(services.isEmpty ? "none" : services.map { "\($0.name) \($0.address)\($0.tls == nil ? "" : " (TLS)")" }.joined(separator: ", "))")
            }
        } catch {
            state.applied.withLock { $0 = nil }
            logger.error("applying the CVM services failed; retrying", metadata: ["cvm.error": "\(error)"])
        }
    }

    /// A CVM that took its configuration but never reported serving is of no use to the
    /// vServer: it is decommissioned (it never joined the vServer's services, which stay as
    /// they were), in one journal line. Elastic mode, if it deployed the CVM, deploys again
    /// after its cooldown.
    private func rollBack(_ name: String, role: ServeRole, because error: OrchestratorError,
                          orchestrator: CVMOrchestrator, logger: Logger) async {
        let consequence: String
        switch role {
        case .vServer(let vServer): consequence = "vServer \(vServer)'s services unchanged"
        case .monitoring: consequence = "monitoring stays with the traffic manager"
        case .logCollector: consequence = "access-log records stay in the spool"
        case .sessionStore: consequence = "persistence goes on with the local tables"
        }
        if case .sessionStore = role {
            // The cluster's members are the cluster's (several traffic managers may serve them,
            // and one may have been served meanwhile): served again at the next pass.
            logger.error("\(error); served again in 10 s; \(consequence)")
            return
        }
        let line = "\(error); decommissioned, " + consequence
        logger.error("\(line)")
        _ = try? await orchestrator.store.record(EventRecord(kind: "tms.serve-failed", cvm: name, message: line))
        do {
            let result = try await orchestrator.decommission(name: name, grace: .seconds(5), drain: .zero)
            logger.notice("CVM \(name) decommissioned (\(result.outcome.rawValue)) after it did not serve")
        } catch {
            logger.error("CVM \(name) did not serve and could not be decommissioned", metadata: ["cvm.error": "\(error)"])
        }
    }

    /// What a CVM is served to be.
    enum ServeRole: Sendable {
        case vServer(String)
        /// The monitoring CVM, with the digest of the definitions it is sent.
        case monitoring(definition: UInt64)
        case logCollector
        /// A session-store member, in the role named (`master`, `servant of ADDRESS`).
        case sessionStore(String)
    }

    /// Sends `serve` to a CVM at most every 10 s (a data plane that fails to start is retried,
    /// not hammered).
    private func sendServe(_ name: String, role: ServeRole, yaml: String, tls: Bool, group: inout TaskGroup<Void>) {
        let now = ContinuousClock.now
        // Keyed by variant too: a CVM that moved to a host of the other trust is served at once.
        let key: String
        switch role {
        case .vServer: key = name + (tls ? "/tls" : "/plain")
        case .monitoring(let definition): key = name + "/monitoring/\(definition)"
        case .logCollector: key = name + "/log-collector"
        case .sessionStore(let role): key = name + "/session-store/" + role
        }
        let due = state.lastSent.withLock { sent -> Bool in
            if let last = sent[key], now - last < .seconds(10) { return false }
            sent[key] = now
            return true
        }
        guard due else { return }
        let orchestrator = self.orchestrator, logger = self.logger, state = self.state
        group.addTask {
            do {
                let result = try await orchestrator.serve(cvm: name, config: yaml, timeout: .seconds(15))
                switch role {
                case .monitoring(let definition): state.monitoringServed.withLock { $0[name] = definition }
                case .logCollector: state.collectorServed.withLock { _ = $0.insert(name) }
                case .sessionStore(let served): state.sessionServed.withLock { $0[name] = served }
                case .vServer: state.servedTLS.withLock { $0[name] = tls }
                }
                logger.notice("CVM \(name) serving at \(result.address ?? "?")\(tls ? " over TLS" : "") after \(result.elapsedMs) ms")
                state.wakeUp.signal()
            } catch let error as OrchestratorError {
                switch error {
                case .notServing, .configRefused: break
                default:
                    logger.error("CVM \(name) does not serve", metadata: ["cvm.error": "\(error)"])
                    return
                }
                await rollBack(name, role: role, because: error, orchestrator: orchestrator, logger: logger)
            } catch {
                logger.error("CVM \(name) does not serve", metadata: ["cvm.error": "\(error)"])
            }
        }
    }
}
