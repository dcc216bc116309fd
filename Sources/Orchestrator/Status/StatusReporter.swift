import Libvirt
import Foundation

/// `cvmctl status`: the store's view of every CVM checked against what each host runs.
package struct StatusReporter: Sendable {
    let store: Store
    let hypervisors: any HypervisorProvider
    /// How long one host may take to list its domains before it is reported unreachable.
    let hostDeadline: Duration

    package init(store: Store, hypervisors: any HypervisorProvider, hostDeadline: Duration = .seconds(2)) {
        self.store = store
        self.hypervisors = hypervisors
        self.hostDeadline = hostDeadline
    }

    struct DomainSeen: Sendable {
        var name: String
        var uuid: String
        var state: String
        var owner: String?
        var cvmID: String?
    }

    enum HostView: Sendable {
        case unregistered
        case unreachable(String)
        case domains([DomainSeen])
    }

    /// The state of every CVM, reconciled with libvirt on every host that has CVMs:
    /// domains missing or stopped under a running CVM, and domains carrying this store's
    /// id that the store does not know, are reported as mismatches rather than hidden.
    /// Hosts are asked all at once, each within `hostDeadline`: an unreachable host is
    /// reported (with the monitor's view of it), never waited for.
    package func status(now: Date = Date()) async throws -> StatusReport {
        let records = try await store.cvms()
        let addresses = Dictionary((try? await store.addressLeases())?.map { ($0.cvmID, $0.address) } ?? [], uniquingKeysWith: { a, _ in a })
        let links = (try? await store.hostLinks()) ?? [:]
        var mismatches: [Mismatch] = []
        var unreachable: [String] = []
        var hostProblems: [String: String] = [:]
        var domainStates: [String: String] = [:] // cvm id -> libvirt state
        let hostNames = Set(records.map(\.host)).union([CVMOrchestrator.localHostName])
        let views = await withTaskGroup(of: (String, HostView).self) { group in
            for hostName in hostNames {
                group.addTask { (hostName, await self.view(of: hostName)) }
            }
            var views: [String: HostView] = [:]
            for await (name, view) in group { views[name] = view }
            return views
        }
        for hostName in hostNames.sorted() {
            let seen: [DomainSeen]
            switch views[hostName] ?? .unregistered {
            case .unregistered:
                for r in records where r.host == hostName {
                    mismatches.append(Mismatch(host: hostName, cvm: r.name, domain: r.domainName, problem: "host is not registered"))
                }
                continue
            case .unreachable(let why):
                if records.contains(where: { $0.host == hostName }) {
                    unreachable.append(hostName)
                    hostProblems[hostName] = why
                }
                continue
            case .domains(let domains):
                seen = domains
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
                    if r.state != .deploying && r.state != .fencing {
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
            if r.state == .running, let why = hostProblems[r.host] {
                // Not confirmed either way: the host does not answer.
                state = CVMRecord.State.unknown.rawValue
                failure = failure ?? "host \(r.host) unreachable: \(links[r.host]?.reason ?? why)"
            } else if monitorAlive, r.state == .running, let age, age > 3 * Double(r.intervalMs) / 1000 {
                // Heartbeat ages only mean something while a monitor is reading the channels;
                // the monitor itself confirms the failure with libvirt.
                state = CVMRecord.State.unknown.rawValue
                failure = failure ?? "no heartbeat for \(Int(age)) s (not confirmed yet)"
            }
            if [.deploying, .migrating, .stopping].contains(r.state), let pid = r.ownerPid,
               !ProcessLiveness.isAlive(pid, start: r.ownerStart) {
                // Its cvmctl died midway (SIGKILL, crash): nobody is finishing the job.
                state = CVMRecord.State.failed.rawValue
                failure = "left \(r.state.rawValue) by cvmctl pid \(pid), which is gone; decommission or redeploy it"
            }
            if r.state == .running, let d = domainStates[r.id], d != "running" {
                state = CVMRecord.State.failed.rawValue
                failure = failure ?? "domain is \(d)"
            }
            return CVMStatus(name: r.name, id: r.id, state: state, host: r.host, image: r.image, task: r.task, role: r.role,
                             address: addresses[r.id], domainState: domainStates[r.id] ?? "unknown",
                             uptimeSeconds: r.startedAt.map { now.timeIntervalSince($0) },
                             lastHeartbeatAgeSeconds: age, agentStatus: r.agentStatus, cpuPercent: r.cpuPercent,
                             memUsedKiB: r.memUsedKiB, memTotalKiB: r.memTotalKiB, diskReadBytes: r.diskReadBytes,
                             diskWriteBytes: r.diskWriteBytes, connections: r.connections, deployMs: r.deployMs,
                             failure: failure, lastMigrationPauseMs: r.lastMigrationPauseMs,
                             lastMigrationTotalMs: r.lastMigrationTotalMs, serving: r.serving,
                             servedActive: r.servedActive, servedOpened: r.servedOpened,
                             servedBytes: r.servedBytes, servedSpills: r.servedSpills)
        }
        return StatusReport(cvms: cvms, mismatches: mismatches, monitorPid: monitor?.pid, monitorAlive: monitorAlive,
                            unreachableHosts: unreachable.sorted(), hostProblems: hostProblems)
    }

    /// One host's domains, or why they could not be listed within the deadline.
    private func view(of hostName: String) async -> HostView {
        guard let host = try? await store.host(named: hostName) else { return .unregistered }
        let hypervisors = self.hypervisors
        do {
            return .domains(try await withDeadline(hostDeadline, "host \(hostName)") {
                var found: [DomainSeen] = []
                for d in try await hypervisors.hypervisor(for: host).allDomains() {
                    let meta = await d.cvmMetadata()
                    found.append(DomainSeen(name: d.name, uuid: d.uuid, state: (try? await d.state().description) ?? "unknown",
                                            owner: meta?.owner, cvmID: meta?.id))
                }
                return found
            })
        } catch {
            return .unreachable("\(error)")
        }
    }
}

extension StatusReport {
    /// What `cvmctl status` exits with (and the API reports): 3 when the store and libvirt
    /// disagree or a host cannot be asked, else 2 when a CVM is failed or unknown, else 0.
    public var exitCode: Int32 {
        if !mismatches.isEmpty || !unreachableHosts.isEmpty { return 3 }
        if cvms.contains(where: { $0.state == "failed" || $0.state == "unknown" }) { return 2 }
        return 0
    }
}
