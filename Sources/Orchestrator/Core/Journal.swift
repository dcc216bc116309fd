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

extension Journal {
    /// Records an event from async code, through the store's async API. The entry is written
    /// even when the calling task is cancelled: a rollback's journal lines are the record of it.
    package func callAsFunction(_ kind: String, cvm: String? = nil, host: String? = nil, _ message: String, policyCommit: String? = nil) async {
        let store = self.store
        let event = EventRecord(kind: kind, cvm: cvm, host: host, message: message, policyCommit: policyCommit)
        do {
            _ = try await withoutCancellation { try await store.record(event) }
        } catch {
            logger.warning("could not record event", metadata: ["cvm.event": "\(kind)", "cvm.error": "\(error)"])
        }
    }
}

extension Store {
    /// The host named `name`, or ``OrchestratorError/unknownHost(_:)``, read through the async API.
    package func requireHost(named name: String) async throws -> HostRecord {
        guard let host = try await host(named: name) else { throw OrchestratorError.unknownHost(name) }
        return host
    }

    /// The host named `name`, or ``OrchestratorError/unknownHost(_:)``.
    package func requireHost(named name: String) throws -> HostRecord {
        guard let host = try host(named: name) else { throw OrchestratorError.unknownHost(name) }
        return host
    }
}
