import CVMProtocol
import Foundation

extension CVMDeployer {
    /// Drains and removes a CVM: asks its agent to stop (signed command over its channel),
    /// waits for the guest to power off (`grace`), destroys it otherwise, then
    /// undefines the domain, deletes its volumes and forgets it. Repeating it is safe.
    package func decommission(name: String, grace: Duration = .seconds(10)) async throws -> DecommissionResult {
        let clock = ContinuousClock()
        let began = clock.now
        guard let record = try await store.cvm(named: name) else {
            let removed = try await store.events().contains { $0.cvm == name && $0.kind == "cvm.removed" }
            if removed { return DecommissionResult(name: name, outcome: .alreadyGone, totalMs: 0) }
            throw OrchestratorError.unknownCVM(name)
        }
        if ActiveOperations.isInProgress(record), let pid = record.ownerPid,
           record.state != .running, record.state != .failed {
            throw OrchestratorError.deployInProgress(name: name, pid: pid)
        }
        let host = try await store.requireHost(named: record.host)
        let hypervisor = try await hypervisors.hypervisor(for: host)
        try await store.update(cvmID: record.id) { r in
            r.state = .stopping
            r.ownerPid = getpid()
            r.ownerStart = ProcessLiveness.currentStart
        }
        await journal("decommission.start", cvm: name, host: host.name, "stopping agent")

        var outcome = DecommissionResult.Outcome.destroyed
        if let domain = try await hypervisor.lookupDomain(named: record.domainName),
           await domain.isActive(), let secret = Hex.decode(record.secret) {
            if await stopAgent(domain: domain, record: record, secret: secret, grace: grace) {
                outcome = .stoppedGracefully
            }
        }
        try await teardown(record, on: hypervisor,
                           reason: outcome == .stoppedGracefully ? "decommissioned (agent stopped)" : "decommissioned (destroyed)")
        return DecommissionResult(name: name, outcome: outcome, totalMs: Self.ms(clock.now - began))
    }

    /// Sends `stop` and waits until the domain is shut off. False when it did not happen in time.
    func stopAgent(domain: any HypervisorDomain, record: CVMRecord, secret: [UInt8], grace: Duration) async -> Bool {
        guard let channel = try? await domain.openAgentChannel(cvmID: record.id, secret: secret, force: true) else { return false }
        defer { channel.close() }
        do {
            try channel.send(.stop)
        } catch {
            return false
        }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if let state = try? await domain.state(), !state.isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Removes every trace of a CVM: domain (destroyed and undefined), its volumes, and
    /// its row. Each step tolerates the thing being gone already, so it can be repeated.
    /// A rollback runs it in a cancelled task: its store work is not cancelled.
    package func teardown(_ record: CVMRecord, reason: String) async throws {
        let store = self.store
        if let host = try await withoutCancellation({ try await store.host(named: record.host) }) {
            try await teardown(record, on: try await hypervisors.hypervisor(for: host), reason: reason)
        } else {
            try await withoutCancellation { try await store.deleteCVM(id: record.id) }
            await journal("cvm.removed", cvm: record.name, host: record.host, reason)
        }
    }

    func teardown(_ record: CVMRecord, on hypervisor: any Hypervisor, reason: String) async throws {
        if let domain = try await hypervisor.lookupDomain(named: record.domainName) {
            try await domain.destroy()
            try await domain.undefine()
        }
        try await hypervisor.deleteVolumes(named: CVMVolumes.all(of: record))
        let store = self.store
        try await withoutCancellation { try await store.deleteCVM(id: record.id) }
        await journal("cvm.removed", cvm: record.name, host: record.host, reason)
    }
}
