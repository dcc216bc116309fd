import ArgumentParser
import Foundation
import Logging
import Orchestrator
import ServiceLifecycle

struct ElasticCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elastic",
        abstract: "Scale, push, bring back and retire CVMs automatically from usage and policy.",
        subcommands: [Run.self])

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run elastic mode in the foreground: measure, anticipate, evaluate, plan, act.",
            discussion: """
            Every elastic.intervalSeconds (from the policy in force) it reads the policy ref and \
            adopts a new commit when it validates (an invalid one is journaled and ignored), \
            measures TMS task usage (--usage-file) and CVM heartbeats, forecasts, and lets the \
            planner decide with the policy's cooldown, hysteresis, min/max and \
            maxConcurrentActions. Every decision and action is journaled with its reason and \
            policy commit: see `cvmctl events --follow`. A heartbeat monitor runs alongside \
            unless one is already running.

            --usage-file FILE is the synthetic stand-in for the traffic manager's usage \
            monitors: JSON lines re-read at every evaluation, the last line of each task \
            being its current usage, e.g.
              {"time": 1718000000, "task": "health-monitor", "cpuPercent": 85, "connections": 1200}
            Resources: cpuPercent, memoryMiB, connections, bytesPerSecond, diskBytesPerSecond.

            SIGTERM or SIGINT: no new evaluation starts, actions under way finish, then it exits \
            (status 0). Actions not done \(Int(Run.gracefulShutdown.components.seconds)) s after the signal are cancelled: a deploy \
            is rolled back, a migration aborted (journaled as interrupted). SIGQUIT cancels them at \
            once. If it has not stopped \(Int(Run.watchdog.components.seconds)) s after the signal (a libvirt call that does not \
            return), it exits 1.
            """)

        /// How long actions under way may take to finish after SIGTERM/SIGINT (a deploy takes
        /// seconds, a migration longer) before they are cancelled.
        static let gracefulShutdown = Duration.seconds(100)
        /// When the process exits 1 if it is still there: leaves the cancelled actions 20 s
        /// to roll back (see ``ShutdownWatchdog``).
        static let watchdog = Duration.seconds(120)

        @OptionGroup var global: GlobalOptions

        @OptionGroup var elastic: ElasticOptions

        @Flag(help: "Evaluate once, carry the actions out, and exit.")
        var once = false

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                var logger = global.logger
                if global.verbose == 0 && !global.quiet { logger.logLevel = .info }
                var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
                var monitor: HeartbeatMonitor?
                let wakeUp = WakeUp()
                if try await !Self.monitorRunning(orchestrator.store) {
                    monitor = HeartbeatMonitor(orchestrator: orchestrator, wakeUp: wakeUp, logger: logger)
                    services.append(.init(service: monitor!))
                }
                let service = try await elastic.service(orchestrator: orchestrator, global: global, logger: logger, once: once,
                                                        configurer: monitor?.configurer, wakeUp: wakeUp)
                // After the monitor: shut down first, while the monitor still watches the CVMs.
                services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup))
                try await runServices(services, gracefulShutdown: Self.gracefulShutdown, watchdog: Self.watchdog,
                                      what: "elastic mode", logger: logger)
            }
        }

        /// Another process's heartbeat monitor ticked in the last few seconds.
        static func monitorRunning(_ store: Store) async throws -> Bool {
            guard let monitor = try await store.monitor(), monitor.pid != getpid() else { return false }
            return monitor.isAlive(now: Date())
        }
    }
}

/// What elastic mode is told, shared by `cvmctl elastic run` and `cvmctl serve --elastic`.
struct ElasticOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Git repository holding policies/ (default: the settings file's policyRepo, else the current directory's).", valueName: "dir"))
    var repo: String?

    @Option(help: ArgumentHelp("Ref to follow (default HEAD).", valueName: "ref"))
    var ref: String?

    @Option(help: ArgumentHelp("Branch to follow (the same as --ref refs/heads/NAME).", valueName: "name"))
    var branch: String?

    @Option(help: ArgumentHelp("TMS task usage as JSON lines, re-read at every evaluation.", valueName: "file"))
    var usageFile: String?

    @Option(help: ArgumentHelp("Read TMS task usage from a running `cvmctl tms run` admin endpoint.", valueName: "host:port"))
    var tmsAdmin: String?

    @Option(help: ArgumentHelp("Admin token file of that traffic manager (default: STATE/tms-admin.token).", valueName: "file"))
    var tmsAdminTokenFile: String?

    @Flag(help: "Journal what would be done; deploy, migrate and decommission nothing.")
    var recommendOnly = false

    @Option(help: ArgumentHelp("Seconds a decommission waits for the CVM to power off before destroying it.", valueName: "s"))
    var grace: Double = 10

    @Option(help: ArgumentHelp("Seconds a decommission waits for the connections a serving CVM still carries to end.", valueName: "s"))
    var drainTimeout: Double = 30

    func validate() throws {
        if ref != nil && branch != nil { throw ValidationError("give --ref or --branch, not both") }
        if let name = ref ?? branch, name.isEmpty || name.hasPrefix("-") {
            throw ValidationError("--ref/--branch must name a commit, branch or tag")
        }
        if !(grace >= 0) { throw ValidationError("--grace must be >= 0") }
        if !(drainTimeout >= 0) { throw ValidationError("--drain-timeout must be >= 0 seconds") }
    }

    /// The elastic service, following the policy ref (a repository without a valid policy is
    /// refused here, before anything runs).
    func service(orchestrator: CVMOrchestrator, global: GlobalOptions, logger: Logger, once: Bool,
                 configurer: CVMOrchestrator.AgentConfigurer?, wakeUp: WakeUp) async throws -> ElasticService {
        let repository = PolicyRepository(directory: repo ?? SettingsFile.loaded.policyRepo ?? FileManager.default.currentDirectoryPath)
        let followed = branch.map { "refs/heads/\($0)" } ?? ref ?? "HEAD"
        let follower = try await PolicyFollower.start(
            orchestrator: orchestrator, repository: repository, ref: followed, recordsApplied: !recommendOnly, origin: "elastic")
        let sources: [any UsageSource] = (usageFile.map { [UsageFileSource(path: $0)] } ?? [])
            + (try tmsAdmin.map { [try TMSUsageSource(address: $0, tokenFile: tmsAdminTokenFile ?? TmsCommand.defaultTokenFile(global))] } ?? [])
        let configuration = ElasticConfiguration(
            usageSources: sources, recommendOnly: recommendOnly, once: once,
            decommissionGrace: .milliseconds(Int64(min(grace, 86_400) * 1000)),
            drainTimeout: .milliseconds(Int64(min(drainTimeout, 86_400) * 1000)))
        return ElasticService(orchestrator: orchestrator, follower: follower, configuration: configuration,
                              logger: logger, configurer: configurer, wakeUp: wakeUp)
    }
}
