import Foundation

extension CVMMigrator {
    /// What an interrupted migration came to.
    package struct Reconciled: Sendable, Equatable {
        package var name: String
        /// Where the CVM runs now, or nil when it runs nowhere (failed).
        package var host: String?
        /// What was removed from the other host.
        package var removed: [String]
    }

    /// Settles migrations whose `migrate` process is gone (SIGKILL, crash, power loss): asks
    /// both hosts where the CVM's domain (its UUID is the CVM's id) runs, records that host,
    /// and removes what the migration left on the other one — the half-made domain and the
    /// volumes it was copying into. A CVM found running on neither is `failed`. Hosts that do
    /// not answer within 10 s leave the intent for a later try.
    @discardableResult
    package func reconcileInterrupted() async -> [Reconciled] {
        guard let intents = try? await store.intents(), !intents.isEmpty else { return [] }
        var settled: [Reconciled] = []
        for intent in intents where !ProcessLiveness.isAlive(intent.ownerPid ?? 0, start: intent.ownerStart) {
            do {
                if let outcome = try await reconcile(intent) { settled.append(outcome) }
            } catch {
                logger.warning("cannot settle an interrupted migration yet", metadata: ["cvm.name": "\(intent.name)", "cvm.error": "\(error)"])
            }
        }
        return settled
    }

    private func reconcile(_ intent: MigrationIntent) async throws -> Reconciled? {
        let store = self.store
        guard let record = try await store.cvm(id: intent.cvmID) else {
            try await store.deleteIntent(cvmID: intent.cvmID)
            return nil
        }
        let source = try await store.requireHost(named: intent.source)
        let destination = try await store.requireHost(named: intent.destination)
        let hypervisors = self.hypervisors
        func open(_ host: HostRecord) async throws -> any Hypervisor {
            try await withDeadline(.seconds(10), "host \(host.name)") { try await hypervisors.hypervisor(for: host) }
        }
        let sourceHV = try await open(source), destinationHV = try await open(destination)
        /// The CVM's own domain on a host (never another domain of that name) and whether it runs.
        func ours(on hypervisor: any Hypervisor) async throws -> (domain: any HypervisorDomain, running: Bool)? {
            guard let domain = try await hypervisor.lookupDomain(named: record.domainName),
                  domain.uuid.lowercased() == record.id.lowercased() else { return nil }
            return (domain, (try? await domain.state().isRunning) ?? false)
        }
        let onSource = try await ours(on: sourceHV), onDestination = try await ours(on: destinationHV)
        // Running on the source wins (a copy that did not finish); else the destination.
        let (keep, keepHost, drop, dropHV): (Bool, String?, (domain: any HypervisorDomain, running: Bool)?, any Hypervisor) =
            if onSource?.running == true { (true, source.name, onDestination, destinationHV) }
            else if onDestination?.running == true { (true, destination.name, onSource, sourceHV) }
            else { (false, nil, onDestination, destinationHV) }
        var removed: [String] = []
        if let drop {
            // libvirt may be removing an incoming domain by itself (its migration's client is
            // gone): tolerate it vanishing under us, then check it is really gone.
            try? await drop.domain.destroy()
            try? await drop.domain.undefine()
            if try await ours(on: dropHV) != nil {
                throw OrchestratorError.migrationFailed(name: record.name, reason: "could not remove the half-migrated domain on \(dropHV.hostName) yet")
            }
            removed.append("domain \(record.domainName) on \(dropHV.hostName)")
        }
        let volumes = Set(try await dropHV.volumeNames()).intersection(CVMVolumes.all(of: record))
        if !volumes.isEmpty {
            try await dropHV.deleteVolumes(named: Array(volumes))
            removed += volumes.sorted().map { "volume \($0) on \(dropHV.hostName)" }
        }
        try await withoutCancellation {
            try await store.update(cvmID: record.id) { r in
                if let keepHost {
                    r.host = keepHost
                    r.state = .running
                    r.failure = nil
                } else {
                    r.state = .failed
                    r.failure = "migration to \(intent.destination) interrupted (its process is gone) and the domain runs on neither host"
                }
                r.ownerPid = nil
                r.ownerStart = nil
            }
            try await store.deleteIntent(cvmID: record.id)
        }
        let outcome = keep ? "runs on \(keepHost ?? "?")" : "runs nowhere: failed"
        await journal("migrate.reconciled", cvm: record.name, host: keepHost ?? intent.source,
                      "migration \(intent.source) → \(intent.destination) interrupted; \(outcome)\(removed.isEmpty ? "" : "; removed \(removed.joined(separator: ", "))")")
        return Reconciled(name: record.name, host: keepHost, removed: removed)
    }
}
