import Libvirt
import CVMProtocol
import Foundation

/// What a decommission did.
public struct DecommissionResult: Sendable {
    public enum Outcome: String, Sendable {
        /// The agent acknowledged the stop and powered the guest off by itself.
        case stoppedGracefully
        /// The agent did not stop in time (or the guest was not running); the domain was destroyed.
        case destroyed
        /// Nothing was left to remove: a retry after an earlier decommission.
        case alreadyGone
    }
    public var name: String
    public var outcome: Outcome
    public var totalMs: Int
}

extension CVMOrchestrator {
    /// Drains and removes a CVM: asks its agent to stop (signed command over its channel),
    /// waits for the guest to power off (`graceSeconds`), destroys it otherwise, then
    /// undefines the domain, deletes its volumes and forgets it. Repeating it is safe.
    public func decommission(name: String, graceSeconds: Double = 10) async throws -> DecommissionResult {
        let clock = ContinuousClock()
        let began = clock.now
        guard let record = try await store.cvm(named: name) else {
            let removed = try await store.events().contains { $0.cvm == name && $0.kind == "cvm.removed" }
            if removed { return DecommissionResult(name: name, outcome: .alreadyGone, totalMs: 0) }
            throw OrchestratorError.unknownCVM(name)
        }
        if let pid = record.ownerPid, pid != getpid(), kill(pid, 0) == 0, record.state != .running, record.state != .failed {
            throw OrchestratorError.deployInProgress(name: name, pid: pid)
        }
        let host = try host(named: record.host)
        let connection = try await LibvirtExecutor.run { try self.connection(to: host) }
        try await store.update(cvmID: record.id) { r in
            r.state = .stopping
            r.ownerPid = getpid()
        }
        journal("decommission.start", cvm: name, host: host.name, "stopping agent")

        var outcome = DecommissionResult.Outcome.destroyed
        if let domain = try await LibvirtExecutor.run({ try connection.lookupDomain(name: record.domainName) }),
           domain.isActive, let secret = Hex.decode(record.secret) {
            if await stopAgent(domain: domain, record: record, secret: secret, grace: graceSeconds) {
                outcome = .stoppedGracefully
            }
        }
        try await teardown(record, reason: outcome == .stoppedGracefully ? "decommissioned (agent stopped)" : "decommissioned (destroyed)")
        return DecommissionResult(name: name, outcome: outcome, totalMs: Self.ms(clock.now - began))
    }

    /// Sends `stop` and waits until the domain is shut off. False when it did not happen in time.
    func stopAgent(domain: LibvirtDomain, record: CVMRecord, secret: [UInt8], grace: Double) async -> Bool {
        guard let channel = try? await LibvirtExecutor.run({
            try AgentChannel(domain: domain, cvmID: record.id, secret: secret, force: true)
        }) else { return false }
        defer { channel.close() }
        do {
            try channel.send(.stop)
        } catch {
            return false
        }
        let deadline = ContinuousClock.now + .seconds(grace)
        while ContinuousClock.now < deadline {
            if let state = try? await LibvirtExecutor.run({ try domain.state() }), !state.isRunning { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
