import Logging
import ServiceLifecycle

/// Runs long-running services (`cvmctl monitor`, `cvmctl elastic run`) in one service group
/// until they end or a signal stops them:
///
/// - SIGTERM, SIGINT: graceful shutdown, services in the reverse of their order. Past
///   `gracefulShutdown` it turns into cancellation (work under way is undone).
/// - SIGQUIT: cancellation at once.
/// - `watchdog` after the shutdown began, the process exits 1 whatever it is waiting for
///   (``ShutdownWatchdog``).
func runServices(_ services: [ServiceGroupConfiguration.ServiceConfiguration], gracefulShutdown: Duration,
                 watchdog: Duration, what: String, logger: Logger) async throws {
    precondition(watchdog > gracefulShutdown, "the watchdog must leave the cancellation time to undo work")
    // Last, so that it is the first told of the shutdown.
    let last = ServiceGroupConfiguration.ServiceConfiguration(
        service: ShutdownWatchdog(deadline: watchdog, what: what), successTerminationBehavior: .ignore)
    var configuration = ServiceGroupConfiguration(
        services: services + [last], gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [.sigquit],
        logger: logger)
    configuration.maximumGracefulShutdownDuration = gracefulShutdown
    // No maximumCancellationDuration: past it the group traps; the watchdog says why and exits 1.
    try await ServiceGroup(configuration: configuration).run()
}
