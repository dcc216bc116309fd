import CVMProtocol
import ArgumentParser
import ConfigFile
import Foundation
import Orchestrator
import Logging
import ServiceLifecycle
import TrafficManager

struct TmsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tms",
        abstract: "Run the traffic manager, read its task usage, and explore its quota pools.",
        subcommands: [Run.self, Usage.self, TmsTokenCommand.self, TmsServeCommand.self, TmsPoolsCommand.self, TmsSimulateCommand.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the traffic manager in the foreground (one event loop per core).",
            discussion: """
            Every vServer of the configuration file listens on its address on every core \
            (SO_REUSEPORT), admits each new connection through its core's quota, spills to its \
            backup chain, and relays bytes to a service that is up. The file is documented key \
            by key in docs/tms.sample.yaml; an error names file:line:column and the key.

            Settings: --cores, --admin and --admin-token-file > the file's cores, admin.address \
            and admin.tokenFile > defaults (every core; 127.0.0.1:9901; tms-admin.token in the \
            state directory).

            Every admin request must send `Authorization: Bearer TOKEN`, TOKEN being the \
            contents of the admin token file. The file is created (mode 0600, a random token) \
            when it does not exist; one that other users may read is refused.

            SIGHUP (or POST /reload on the admin endpoint) re-reads the file and applies it \
            without dropping connections; a file that does not validate is refused and the one \
            in force stays. SIGTERM or SIGINT: stop accepting, let connections finish for at most \
            drainTimeout, close the rest, exit.
            """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("The configuration file (YAML).", valueName: "file"))
        var config: String

        @Option(help: ArgumentHelp("Event loops (cores) for the data plane.", valueName: "n"))
        var cores: Int?

        @Option(help: ArgumentHelp("Admin endpoint address (loopback).", valueName: "host:port"))
        var admin: String?

        @Option(help: ArgumentHelp("Admin token file, created when missing (default: STATE/tms-admin.token).", valueName: "file"))
        var adminTokenFile: String?

        func validate() throws {
            if let cores, cores < 1 { throw ValidationError("--cores must be 1 or more") }
            if let admin {
                guard let address = HostPort(parsing: admin) else { throw ValidationError("--admin must be HOST:PORT with an IP address") }
                guard address.isLoopback else { throw ValidationError("--admin must be a loopback address (127.0.0.0/8 or ::1)") }
            }
        }

        func run() async throws {
            try await reportingErrors {
                var file = try TMSConfig.load(file: config)
                if let admin { file.admin.address = HostPort(parsing: admin) }
                file.admin.tokenFile = adminTokenFile ?? file.admin.tokenFile ?? TmsCommand.defaultTokenFile(global)
                file.admin.tokensFile = file.admin.tokensFile ?? TmsCommand.defaultTokensFile(global)
                var logger = global.logger
                if global.verbose == 0 && !global.quiet { logger.logLevel = .info }
                // vServers offloaded to CVMs: their services are the CVMs that serve them,
                // kept current from the orchestrator's store (CVMBackends).
                // Offloaded monitoring (monitoring.cvm) is kept current the same way.
                // So is the offloaded access log (accessLog.cvm).
                // And the session-store cluster (sessionStore.cvm).
                let backends = file.cvmVServers.isEmpty && file.monitoring.cvm == nil && file.accessLog.cvm == nil && file.sessionStore.cvm == nil
                    ? nil : CVMBackends.State(file)
                let manager = TrafficManager(config: file, configFile: config, cores: cores, logger: logger,
                                             prepare: { backends?.adopt($0) ?? $0 })
                var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: TrafficManagerService(manager: manager))]
                if let backends {
                    let orchestrator = try global.orchestrator()
                    // Every offloaded vServer's task must be one an image of the catalog runs.
                    let catalog = orchestrator.catalog
                    let offered = Set(catalog.names().compactMap { try? catalog.manifest($0) }.flatMap(\.tasks))
                    if let monitoring = file.monitoring.cvm, !offered.contains(monitoring.task) {
                        throw OrchestratorError.invalidArgument("monitoring.cvm: no image in \(catalog.root) runs task '\(monitoring.task)' (images run: \(offered.sorted().joined(separator: ", "))); build one whose manifest lists it, e.g. cvm-tms for health-monitor")
                    }
                    if let monitoring = file.monitoring.cvm {
                        // What the monitoring CVM would be sent must fit one agent channel line.
                        let yaml = file.cvmMonitoringYAML(states: [], port: monitoring.port, tls: CVMBackends.guestTLS(gateway: "255.255.255.255"))
                        let bytes = CVMOrchestrator.serveCommandBytes(config: yaml)
                        guard bytes <= LineFramer.defaultMaxLineLength else {
                            throw OrchestratorError.invalidArgument("monitoring.cvm: the monitors and the \(file.offloadableMonitoredVServers.flatMap(\.services).count) services they watch take \(bytes) bytes on the agent channel, more than the \(LineFramer.defaultMaxLineLength) a line carries; offload fewer services (or shorter names)")
                        }
                    }
                    if let collector = file.accessLog.cvm, !offered.contains(collector.task) {
                        throw OrchestratorError.invalidArgument("accessLog.cvm: no image in \(catalog.root) runs task '\(collector.task)' (images run: \(offered.sorted().joined(separator: ", "))); build one whose manifest lists it, e.g. cvm-tms for log-collector")
                    }
                    if let store = file.sessionStore.cvm {
                        guard let cluster = try await orchestrator.store.cluster(named: store.cluster) else {
                            throw OrchestratorError.invalidArgument("sessionStore.cvm: no cluster named '\(store.cluster)'; create it first: cvmctl cluster create \(store.cluster) --image cvm-tms --task session-store --size \(store.minReplicas + 1)")
                        }
                        guard cluster.size - 1 >= store.minReplicas else {
                            throw OrchestratorError.invalidArgument("sessionStore.cvm: cluster '\(store.cluster)' has \(cluster.size) member\(cluster.size == 1 ? "" : "s"), so \(cluster.size - 1) servant\(cluster.size == 2 ? "" : "s"), but minReplicas \(store.minReplicas) requires every write on \(store.minReplicas); grow it (delete and create it with --size \(store.minReplicas + 1)) or lower minReplicas")
                        }
                    }
                    for vServer in file.cvmVServers where !offered.contains(vServer.cvm!.task) {
                        throw OrchestratorError.invalidArgument("vServer \(vServer.name): no image in \(catalog.root) runs task '\(vServer.cvm!.task)' (images run: \(offered.sorted().joined(separator: ", "))); build one whose manifest lists it, e.g. cvm-tms for backup-vserver")
                    }
                    services.append(.init(service: CVMBackends(manager: manager, orchestrator: orchestrator, logger: logger, state: backends)))
                }
                // Under systemd (Type=notify): ready once the listeners are bound; the watchdog
                // pinged while the control loop answers.
                services.append(.init(service: SystemdNotifier(
                    logger: logger, status: { "generation \(manager.table?.generation ?? 0)" }, isReady: { manager.table != nil },
                    isHealthy: { _ = await manager.status(); return true }), successTerminationBehavior: .ignore))
                let group = ServiceGroup(configuration: .init(services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
                try await group.run()
            }
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the traffic manager's task usage: current, patterns and forecast.",
            discussion: """
            Reads GET /usage from the admin endpoint of a running `cvmctl tms run`, with the \
            token of its admin token file (--admin-token-file; default STATE/tms-admin.token, \
            which `cvmctl tms run` creates with the same --state). Tasks are \
            each vServer's balancing (vserver/NAME), each monitor (monitor/NAME, policy task \
            monitoring.cvm.task or health-monitor by default; while offloaded, the CVM's probes \
            count as its probes/s), the access log (accesslog) and the session store's tables \
            (sessionstore, policy task session-store: pins held and written); POLICY TASK is the name the \
            orchestrator's policies use. --json prints the whole report.
            """)

        @OptionGroup var global: GlobalOptions

        @Option(help: ArgumentHelp("Admin endpoint address (default: CVM_TMS_ADMIN, else the settings file's tmsAdmin, else 127.0.0.1:9901).", valueName: "host:port"))
        var admin: String?

        @Option(help: ArgumentHelp("Admin token file of that traffic manager (default: STATE/tms-admin.token).", valueName: "file"))
        var adminTokenFile: String?

        var address: HostPort? {
            HostPort(parsing: admin ?? ProcessInfo.processInfo.environment["CVM_TMS_ADMIN"] ?? SettingsFile.loaded.tmsAdmin ?? AdminConfig.defaultAddress.description)
        }

        func validate() throws {
            guard address != nil else { throw ValidationError("--admin must be HOST:PORT with an IP address") }
        }

        func run() async throws {
            try await reportingErrors {
                guard let address else { throw ValidationError("--admin must be HOST:PORT with an IP address") }
                let token = try TokenFile.read(path: adminTokenFile ?? TmsCommand.defaultTokenFile(global))
                let report = try await AdminClient.usage(from: address, token: token)
                if global.json {
                    try JSONOutput.print(report)
                    return
                }
                print(Self.render(report))
                // The CVMs that carry these tasks (the serving CVMs of a `cvm:` vServer), from
                // the store of this state directory.
                let tasks = Set(report.tasks.map(\.task))
                let store = try global.orchestrator().store
                let cvms = try await store.cvms().filter { tasks.contains($0.task) }.sorted { $0.name < $1.name }
                guard !cvms.isEmpty else { return }
                let addresses = Dictionary(try await store.addressLeases().map { ($0.cvmID, $0.address) }, uniquingKeysWith: { a, _ in a })
                var table = Table("CVM", "POLICY TASK", "STATE", "HOST", "ADDRESS", "SERVING", "CONNS", "OPENED", "BYTES")
                for cvm in cvms {
                    table.add([cvm.name, cvm.task, cvm.state.rawValue, cvm.host, addresses[cvm.id] ?? "-",
                               cvm.serving.map { $0 ? "yes" : "no" } ?? "-", cvm.servedActive.map(String.init) ?? "-",
                               cvm.servedOpened.map(String.init) ?? "-", cvm.servedBytes.map { Format.bytes($0) } ?? "-"])
                }
                print("\nCVMs carrying these tasks:\n" + table.rendered)
            }
        }

        static func render(_ report: UsageReport) -> String {
            var table = Table("TASK", "POLICY TASK", "CPU%", "CONNS", "CONN/S", "IN/S", "OUT/S", "SPILL/S",
                              "CPU% AVG/PEAK", "CONNS AVG/PEAK", "ANTICIPATED CPU%", "ANTICIPATED CONNS")
            for task in report.tasks {
                func value(_ key: String) -> Double { task.current[key] ?? 0 }
                func pattern(_ key: String) -> String {
                    guard let p = task.patterns[key] else { return "-" }
                    return "\(number(p.movingAverage))/\(number(p.peak))"
                }
                table.add([task.name, task.task, number(value("cpuPercent")), number(value("connections")),
                           number(value("connectionsPerSecond")), Format.bytes(Int64(value("bytesInPerSecond"))),
                           Format.bytes(Int64(value("bytesOutPerSecond"))), number(value("spillsPerSecond")),
                           pattern("cpuPercent"), pattern("connections"),
                           number(task.forecast["cpuPercent"]?.anticipated ?? 0),
                           number(task.forecast["connections"]?.anticipated ?? 0)])
            }
            let header = "generation \(report.generation), \(report.cores) cores, process CPU \(number(report.process.cpuPercent))%, "
                + "resident \(number(report.process.residentMiB)) MiB, forecast horizon \(number(report.horizonSeconds))s"
            return header + "\n" + table.rendered
        }

        static func number(_ value: Double) -> String {
            value >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.1f", value)
        }
    }

    /// `STATE/tms-admin.token`: where `tms run` keeps its admin token and its clients look
    /// for it unless told otherwise.
    static func defaultTokenFile(_ global: GlobalOptions) -> String {
        (global.configuration.stateDirectory as NSString).appendingPathComponent(AdminConfig.defaultTokenFileName)
    }

    static func defaultTokensFile(_ global: GlobalOptions) -> String {
        (global.configuration.stateDirectory as NSString).appendingPathComponent(AdminConfig.defaultTokensFileName)
    }
}
