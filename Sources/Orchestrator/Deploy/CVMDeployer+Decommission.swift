import CVMProtocol
import Foundation
import Synchronization

extension CVMDeployer {
    /// Drains and removes a CVM: marks it `stopping` (a traffic manager serving through it
    /// then sends it no new connections), waits up to `drain` for the connections its data
    /// plane still carries to end (a CVM that serves nothing has none), asks its agent to stop
    /// (signed command over its channel), waits for the guest to power off (`grace`), destroys
    /// it otherwise, then undefines the domain, deletes its volumes and forgets it. Repeating
    /// it is safe.
    package func decommission(name: String, grace: Duration = .seconds(10), drain: Duration = .seconds(30)) async throws -> DecommissionResult {
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
        let hypervisor: any Hypervisor
        do {
            hypervisor = try await reachableHypervisor(for: host)
        } catch let unreachable as OrchestratorError {
            guard case .hostUnreachable = unreachable else { throw unreachable }
            return try await deferToFencing(record, because: unreachable, began: began)
        }
        try await store.update(cvmID: record.id) { r in
            r.state = .stopping
            r.ownerPid = getpid()
            r.ownerStart = ProcessLiveness.currentStart
        }
        await journal("decommission.start", cvm: name, host: host.name, "stopping agent")

        var outcome = DecommissionResult.Outcome.destroyed
        var drained: DrainOutcome?
        if let domain = try await hypervisor.lookupDomain(named: record.domainName),
           await domain.isActive(), let secret = Hex.decode(record.secret) {
            if record.serving == true, drain > .zero {
                drained = await self.drain(domain: domain, record: record, secret: secret, limit: drain)
                if let drained {
                    await journal(drained.timedOut ? "decommission.drain-timeout" : "decommission.drained",
                                  cvm: name, host: host.name, drained.summary)
                }
            }
            if await stopAgent(domain: domain, record: record, secret: secret, grace: grace) {
                outcome = .stoppedGracefully
            }
        }
        try await teardown(record, on: hypervisor,
                           reason: outcome == .stoppedGracefully ? "decommissioned (agent stopped)" : "decommissioned (destroyed)")
        return DecommissionResult(name: name, outcome: outcome, totalMs: Self.ms(clock.now - began), drain: drained)
    }

    /// Waits until the data plane of a CVM being decommissioned carries no connection, or
    /// `limit`. Its heartbeats are read on its own channel (taken over from the monitor) and
    /// recorded. The first 1.5 s only count connections: the traffic manager, which polls the
    /// store twice a second, may still hand it one while it learns the CVM is stopping. Nil
    /// when its channel cannot be opened (the stop that follows will fail the same way).
    func drain(domain: any HypervisorDomain, record: CVMRecord, secret: [UInt8], limit: Duration) async -> DrainOutcome? {
        guard let channel = try? await domain.openAgentChannel(cvmID: record.id, secret: secret, force: true) else { return nil }
        defer { channel.close() }
        let clock = ContinuousClock()
        let began = clock.now
        let settle = began + .milliseconds(1500)
        let store = self.store
        let initial = max(0, record.servedActive ?? 0)
        /// The last count reported, and the most seen.
        final class Counts: Sendable { let active: Mutex<(last: Int64, most: Int64)>; init(_ v: Int64) { active = Mutex((v, v)) } }
        let counts = Counts(initial)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in channel.events {
                    guard case .heartbeat(let hb, _) = event else { continue }
                    _ = try? await store.update(cvmID: record.id) { $0.apply(hb, at: Date()) }
                    let active = hb.service.map { GuestFigures.count($0.active) } ?? 0
                    counts.active.withLock { $0 = (active, max($0.most, active)) }
                    if active == 0, clock.now >= settle { return }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            _ = await group.next()
            group.cancelAll()
        }
        let (remaining, most) = counts.active.withLock { $0 }
        return DrainOutcome(initial: most, remaining: remaining, waitedMs: Self.ms(clock.now - began))
    }

    /// The host's hypervisor, unless a running monitor declared the host lost or it does not
    /// answer within 10 s (``OrchestratorError/hostUnreachable(host:reason:)``).
    func reachableHypervisor(for host: HostRecord) async throws -> any Hypervisor {
        // The monitor's word only while a monitor is running: a stale row proves nothing.
        if let link = try await store.hostLink(named: host.name), let lost = link.lostAt,
           try await store.monitor()?.isAlive(now: Date()) == true {
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "declared lost by the heartbeat monitor at \(lost) (\(link.reason ?? "no answer"))")
        }
        let hypervisors = self.hypervisors
        do {
            return try await withDeadline(.seconds(10), "host \(host.name)") { try await hypervisors.hypervisor(for: host) }
        } catch let error as DeadlineExceeded {
            throw OrchestratorError.hostUnreachable(host: host.name, reason: error.description)
        } catch OrchestratorError.libvirtUnreachable(let uri, let reason) {
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "\(uri): \(reason)")
        }
    }

    /// A CVM whose host does not answer cannot be stopped now: it leaves every cluster and
    /// task at once (so a replacement can be deployed) and becomes `fencing`; the heartbeat
    /// monitor destroys its domain and volumes when the host answers again, then forgets it.
    private func deferToFencing(_ record: CVMRecord, because error: OrchestratorError, began: ContinuousClock.Instant) async throws -> DecommissionResult {
        let reason = "decommissioned while \(record.host) was unreachable (\(error)): destroyed when it answers again"
        try await withoutCancellation { [store] in
            try await store.update(cvmID: record.id) { r in
                r.state = .fencing
                r.cluster = nil
                r.failure = reason
                r.ownerPid = nil
                r.ownerStart = nil
            }
        }
        await journal("decommission.deferred", cvm: record.name, host: record.host, reason)
        return DecommissionResult(name: record.name, outcome: .deferred, totalMs: Self.ms(ContinuousClock.now - began))
    }

    /// Sends `stop` and waits until the domain is shut off. False when it did not happen in time.
    func stopAgent(domain: any HypervisorDomain, record: CVMRecord, secret: [UInt8], grace: Duration) async -> Bool {
        guard let channel = try? await domain.openAgentChannel(cvmID: record.id, secret: secret, force: true) else { return false }
        defer { channel.close() }
        do {
            try await channel.send(.stop)
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
        // Only this CVM's domain: its UUID is the CVM's id (a domain of that name made by
        // someone else is left alone).
        if let domain = try await hypervisor.lookupDomain(named: record.domainName), domain.uuid.lowercased() == record.id.lowercased() {
            try await domain.destroy()
            try await domain.undefine()
        }
        try await hypervisor.deleteVolumes(named: CVMVolumes.all(of: record))
        let store = self.store
        try await withoutCancellation { try await store.deleteCVM(id: record.id) }
        await journal("cvm.removed", cvm: record.name, host: record.host, reason)
    }
}
