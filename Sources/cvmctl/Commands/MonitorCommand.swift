import ArgumentParser
import Foundation
import Logging
import Orchestrator
import ServiceLifecycle

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Watch every CVM's heartbeats and libvirt events (runs in the foreground).",
        discussion: """
        SIGTERM or SIGINT stop it gracefully: the agents' channels are closed, the CVMs keep \
        running. SIGQUIT stops it at once. If it has not stopped \(Int(MonitorCommand.watchdog.components.seconds)) s \
        after the signal (a libvirt call that does not return), it exits 1.
        """)

    /// How long a graceful shutdown may take before it becomes cancellation.
    static let gracefulShutdown = Duration.seconds(10)
    /// When the process exits 1 if it is still there (see ``ShutdownWatchdog``).
    static let watchdog = Duration.seconds(15)

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            var logger = global.logger
            if global.verbose == 0 && !global.quiet { logger.logLevel = .info }
            let monitor = HeartbeatMonitor(orchestrator: orchestrator, logger: logger)
            try await runServices([.init(service: monitor)], gracefulShutdown: Self.gracefulShutdown,
                                  watchdog: Self.watchdog, what: "the monitor", logger: logger)
        }
    }
}
