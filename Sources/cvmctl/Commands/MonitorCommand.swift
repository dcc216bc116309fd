import ArgumentParser
import Foundation
import Logging
import Orchestrator
import ServiceLifecycle

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch every CVM's heartbeats and libvirt events (runs in the foreground).",
        discussion: "SIGTERM or SIGINT stop it gracefully; the CVMs keep running.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            var logger = global.logger
            if global.verbose == 0 && !global.quiet { logger.logLevel = .info }
            let monitor = HeartbeatMonitor(orchestrator: orchestrator, logger: logger)
            let group = ServiceGroup(configuration: .init(
                services: [.init(service: monitor)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            let watchdog = ShutdownWatchdog(seconds: 15, what: "the monitor")
            try await group.run()
            withExtendedLifetime(watchdog) {}
        }
    }
}
