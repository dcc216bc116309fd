import Libvirt
import Foundation

/// `cvmctl status`: the store's view of every CVM checked against what each host runs.
package struct StatusReporter: Sendable {
    let store: Store
    let hypervisors: any HypervisorProvider

    package init(store: Store, hypervisors: any HypervisorProvider) {
        self.store = store
        self.hypervisors = hypervisors
    }

    /// The state of every CVM, reconciled with libvirt on every host that has CVMs:
    /// domains missing or stopped under a running CVM, and domains carrying this store's
    /// id that the store does not know, are reported as mismatches rather than hidden.
    package func status(now: Date = Date()) async throws -> StatusReport {
        let records = try await store.cvms()
        var mismatches: [Mismatch] = []
        var unreachable: [String] = []
        var domainStates: [String: String] = [:] // cvm id -> libvirt state
        let hostNames = Set(records.map(\.host)).union([CVMOrchestrator.localHostName])
        for hostName in hostNames.sorted() {
            guard let host = try await store.host(named: hostName) else {
                for r in records where r.host == hostName {
                    mismatches.append(Mismatch(host: hostName, cvm: r.name, domain: r.domainName, problem: "host is not registered"))
                }
                continue
            }
            let seen: [(name: String, uuid: String, state: String, owner: String?, cvmID: String?)]
            do {
                var found: [(name: String, uuid: String, state: String, owner: String?, cvmID: String?)] = []
                for d in try await hypervisors.hypervisor(for: host).allDomains() {
                    let meta = await d.cvmMetadata()
                    found.append((d.name, d.uuid, (try? await d.state().description) ?? "unknown", meta?.owner, meta?.id))
                }
                seen = found
            } catch {
                if records.contains(where: { $0.host == hostName }) { unreachable.append(hostName) }
                continue
            }
            for r in records where r.host == hostName {
                if let d = seen.first(where: { $0.uuid == r.id || $0.cvmID == r.id }) {
                    domainStates[r.id] = d.state
                    if (r.state == .running) && d.state != "running" {
                        mismatches.append(Mismatch(host: hostName, cvm: r.name, domain: d.name,
                                                   problem: "store says running, libvirt says \(d.state)"))
                    }
                } else {
                    domainStates[r.id] = "missing"
                    if r.state != .deploying {
                        mismatches.append(Mismatch(host: hostName, cvm: r.name, domain: r.domainName,
                                                   problem: "no such domain in libvirt"))
                    }
                }
            }
            let known = Set(records.map(\.id))
            for d in seen where d.owner == store.storeID && !known.contains(d.cvmID ?? "") {
                mismatches.append(Mismatch(host: hostName, cvm: nil, domain: d.name,
                                           problem: "domain carries this store's id but no CVM record (orphan)"))
            }
        }

        let monitor = try await store.monitor()
        let monitorAlive = monitor?.isAlive(now: now) ?? false
        let cvms = records.map { r -> CVMStatus in
            let age = r.lastHeartbeatAt.map { now.timeIntervalSince($0) }
            var state = r.state.rawValue
            var failure = r.failure
            // Heartbeat ages only mean something while a monitor is reading the channels.
            if monitorAlive, r.state == .running, let age, age > 3 * Double(r.intervalMs) / 1000 {
                state = CVMRecord.State.failed.rawValue
                failure = failure ?? "no heartbeat for \(Int(age)) s"
            }
            if r.state == .running, let d = domainStates[r.id], d != "running" {
                state = CVMRecord.State.failed.rawValue
                failure = failure ?? "domain is \(d)"
            }
            return CVMStatus(name: r.name, id: r.id, state: state, host: r.host, image: r.image, task: r.task, role: r.role,
                             domainState: domainStates[r.id] ?? "unknown",
                             uptimeSeconds: r.startedAt.map { now.timeIntervalSince($0) },
                             lastHeartbeatAgeSeconds: age, agentStatus: r.agentStatus, cpuPercent: r.cpuPercent,
                             memUsedKiB: r.memUsedKiB, memTotalKiB: r.memTotalKiB, diskReadBytes: r.diskReadBytes,
                             diskWriteBytes: r.diskWriteBytes, connections: r.connections, deployMs: r.deployMs,
                             failure: failure, lastMigrationPauseMs: r.lastMigrationPauseMs,
                             lastMigrationTotalMs: r.lastMigrationTotalMs)
        }
        return StatusReport(cvms: cvms, mismatches: mismatches, monitorPid: monitor?.pid, monitorAlive: monitorAlive,
                            unreachableHosts: unreachable)
    }
}
