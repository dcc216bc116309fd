import Foundation
import Libvirt
import Logging
import Synchronization

/// How busy each host is (0...1), for the daemon's `/v1/hosts`, `/metrics` and dashboard:
/// each `sample()` reads every host's CPU times over its libvirt connection (2 s at most per
/// host; a host the monitor finds unreachable is not asked) and keeps the busy fraction since
/// the previous sample, with ``RemoteHostLoad``'s bookkeeping (a host that failed is tried
/// again after a minute).
public final class HostLoadMonitor: Sendable {
    private let orchestrator: CVMOrchestrator
    private let logger: Logger
    private let state = Mutex(RemoteHostLoad())

    public init(orchestrator: CVMOrchestrator, logger: Logger) {
        self.orchestrator = orchestrator
        self.logger = logger
    }

    /// The latest busy fraction per host name (hosts not yet sampled twice, or failing, absent).
    public var load: [String: Double] { state.withLock { $0.load } }

    /// One pass over the store's hosts (those `include` accepts).
    public func sample(_ include: (HostRecord) -> Bool = { _ in true }) async {
        let now = Date()
        let hosts = (try? await orchestrator.store.hosts()) ?? []
        let links = (try? await orchestrator.store.hostLinks()) ?? [:]
        for host in hosts where include(host) && state.withLock({ $0.shouldSample(host.name, now: now) }) {
            do {
                if links[host.name]?.isUnreachable == true {
                    throw OrchestratorError.hostUnreachable(host: host.name, reason: links[host.name]?.reason ?? "no answer")
                }
                let orchestrator = self.orchestrator
                let times = try await withDeadline(.seconds(2), "CPU times of \(host.name)") {
                    let connection = try await LibvirtExecutor.run { try orchestrator.connection(to: host) }
                    return try await connection.serially { try connection.cpuTimes() }
                }
                state.withLock { $0.record(host.name, times) }
            } catch {
                state.withLock { $0.failed(host.name, now: now) }
                logger.debug("cannot read a host's CPU times", metadata: ["cvm.host": "\(host.name)", "cvm.error": "\(error)"])
            }
        }
    }
}
