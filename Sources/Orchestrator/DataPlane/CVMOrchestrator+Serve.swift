import CVMProtocol
import Foundation
import Synchronization

extension CVMOrchestrator {
    /// What `serve` found: the data plane's first report that it serves, and how long that took.
    public struct ServeResult: Sendable {
        public var name: String
        public var address: String?
        public var report: ServiceReport
        public var elapsedMs: Int
    }

    /// How many bytes the `serve` command for `config` takes on the agent channel, whose lines
    /// may have at most `LineFramer.defaultMaxLineLength`.
    public static func serveCommandBytes(config: String) -> Int {
        Command(id: "00000000-0000-0000-0000-000000000000", seq: UInt64.max, op: .serve, config: config)
            .render(signedWith: [UInt8](repeating: 0, count: 32)).count
    }

    /// Sends a running cvm-tms CVM its data plane's configuration (the traffic manager's YAML,
    /// validated by the caller) over the signed agent channel, and waits until a heartbeat
    /// says it serves that configuration (its digest, see `ServiceReport.config`). The agent starts the data plane, or reloads it keeping connections.
    /// - Throws: one line when the CVM is not running, has no NIC, the configuration does not
    ///   fit a channel line, or it does not report serving within `timeout`
    ///   (``OrchestratorError/notServing(name:seconds:reason:)`` when its heartbeats said so).
    public func serve(cvm name: String, config: String, timeout: Duration = .seconds(20)) async throws -> ServeResult {
        let began = ContinuousClock.now
        let sentAt = Date()
        guard let record = try await store.cvm(named: name) else { throw OrchestratorError.unknownCVM(name) }
        guard record.state == .running else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' is \(record.state.rawValue), not running")
        }
        let lease = try await store.addressLease(cvmID: record.id)
        guard lease != nil else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' has no NIC on the CVM segment (it was deployed before CVMs had one); redeploy it")
        }
        let bytes = Self.serveCommandBytes(config: config)
        guard bytes <= LineFramer.defaultMaxLineLength else {
            throw OrchestratorError.invalidArgument("the data plane configuration takes \(bytes) bytes on the agent channel, more than the \(LineFramer.defaultMaxLineLength) a line may have; shorten it (comments, defaults)")
        }
        // A data plane that served before says so while it reloads: wait for this configuration.
        let digest = ServiceReport.configDigest(of: config)
        // A data plane that refuses the configuration says so, and why, in its heartbeats: the
        // wait ends there too.
        let refusal = Mutex<String?>(nil)
        let served = await AgentCommand(store: store, hypervisors: hypervisors)
            .send(.serve, to: record, config: config, timeout: timeout) { heartbeat in
                guard let service = heartbeat.service else { return false }
                if service.rejected == digest {
                    refusal.withLock { $0 = service.rejectReason.isEmpty ? "no reason given" : service.rejectReason }
                    return true
                }
                return service.serving && service.config == digest
            }
        if case .success = served, let reason = refusal.withLock({ $0 }) {
            await journal("serve.failed", cvm: name, host: record.host, "its data plane refused the configuration: \(reason)")
            throw OrchestratorError.configRefused(name: name, reason: reason)
        }
        switch served {
        case .success:
            let current = try await store.cvm(named: name)
            let report = ServiceReport(serving: true, active: UInt64(max(0, current?.servedActive ?? 0)),
                                       opened: UInt64(max(0, current?.servedOpened ?? 0)),
                                       bytes: UInt64(max(0, current?.servedBytes ?? 0)), spills: UInt64(max(0, current?.servedSpills ?? 0)))
            let elapsed = ContinuousClock.now - began
            await journal("serve.done", cvm: name, host: record.host, "data plane serving at \(lease?.address ?? "?")")
            return ServeResult(name: name, address: lease?.address, report: report,
                               elapsedMs: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
        case .failure(.unreachable(let why)):
            throw OrchestratorError.agentRejected(name: name, reason: why)
        case .failure(.unacknowledged):
            let current = try await store.cvm(named: name)
            let heard = (current?.lastHeartbeatAt ?? .distantPast) > sentAt
            let why = !heard ? "no heartbeat came in time"
                : current?.serving == false ? "its data plane did not start with this configuration (see the CVM's console)"
                : current?.serving == nil ? "its image runs no data plane (deploy image cvm-tms)"
                : "it still serves its previous configuration: this one did not load (see the CVM's console)"
            await journal("serve.failed", cvm: name, host: record.host, why)
            // Heartbeats since the command said it does not serve: that is the data plane's
            // answer. Without them, nothing is known (the heartbeat monitor judges a silent CVM).
            guard !heard || current?.serving == true else {
                throw OrchestratorError.notServing(name: name, seconds: Int(timeout.components.seconds), reason: why)
            }
            throw OrchestratorError.agentRejected(name: name, reason: "not serving after \(Int(timeout.components.seconds)) s: \(why)")
        }
    }
}
