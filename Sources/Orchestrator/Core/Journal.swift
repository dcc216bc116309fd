import Logging

/// Records what the orchestrator did and why in the store's event journal (`cvmctl events`).
/// A failed write is logged, never thrown: the journal must not undo the action it reports.
package struct Journal: Sendable {
    let store: Store
    let logger: Logger

    package init(store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    package func callAsFunction(_ kind: String, cvm: String? = nil, host: String? = nil, _ message: String, policyCommit: String? = nil) {
        do {
            try store.record(EventRecord(kind: kind, cvm: cvm, host: host, message: message, policyCommit: policyCommit))
        } catch {
            logger.warning("could not record event", metadata: ["cvm.event": "\(kind)", "cvm.error": "\(error)"])
        }
    }
}

extension Store {
    /// The host named `name`, or ``OrchestratorError/unknownHost(_:)``.
    package func requireHost(named name: String) throws -> HostRecord {
        guard let host = try host(named: name) else { throw OrchestratorError.unknownHost(name) }
        return host
    }
}
