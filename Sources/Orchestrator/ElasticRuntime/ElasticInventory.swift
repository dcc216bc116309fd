import Planning
/// The planner's view of hosts and CVMs, built from the host registry and the CVM records.
/// Pure.
///
/// - Only CVMs placed under a policy (`policyCommit` set) are the planner's to scale, move or
///   retire; CVMs deployed by hand still take capacity on their host but belong to no task.
/// - Capacity is the registry's CPU count and memory; 0 (not known) means this machine's for
///   the local host and no limit for a remote one (as `cvmctl migrate` treats it). The
///   registry has no limit on the number of CVMs.
/// - Load: this machine's load average for the local host; for a remote host its CPU busy
///   fraction between the last two evaluations (`remoteLoad`, from libvirt), else 0.
/// - Latency: as measured by `cvmctl host probe`; a remote host never probed counts as
///   infinitely far, so tiers with a latency limit leave it out.
public enum ElasticInventory {
    /// The CVM-count capacity of every host (the registry has no such limit).
    static let unlimitedCVMs = 1 << 20
    static let unknownSize = Int(Int32.max)

    /// `isAlive` tells whether a process id still runs: a CVM left `deploying`, `stopping` or
    /// `migrating` by a process that is gone (a crash mid-operation) counts as failed, so the
    /// planner cleans it up instead of waiting for it forever.
    public static func build(
        hosts: [HostRecord], cvms: [CVMRecord], machine: LocalMachine, pending: [PendingAction] = [],
        remoteLoad: [String: Double] = [:], isAlive: (Int32, Int64?) -> Bool = { _, _ in true }
    ) -> HostInventory {
        var used: [String: ResourceAmount] = [:]
        for cvm in cvms {
            used[cvm.host, default: .zero] += .cvm(vcpus: cvm.vcpus, memoryMiB: cvm.memoryMiB)
        }
        var snapshots: [String: CVMSnapshot] = [:]
        // A CVM being fenced was replaced already: it belongs to no task any more.
        for cvm in cvms where cvm.policyCommit != nil && cvm.state != .fencing {
            snapshots[cvm.name] = CVMSnapshot(
                id: cvm.name, task: cvm.task, host: cvm.host, vcpus: cvm.vcpus, memoryMiB: cvm.memoryMiB,
                phase: [.deploying, .stopping, .migrating].contains(cvm.state) && cvm.ownerPid.map({ !isAlive($0, cvm.ownerStart) }) == true
                    ? .failed : phase(of: cvm.state))
        }
        for action in pending {
            switch action {
            case let .deploy(name, task, host, vcpus, memoryMiB) where snapshots[name] == nil:
                snapshots[name] = CVMSnapshot(id: name, task: task, host: host, vcpus: vcpus, memoryMiB: memoryMiB, phase: .deploying)
                used[host, default: .zero] += .cvm(vcpus: vcpus, memoryMiB: memoryMiB)
            case .deploy:
                break
            case let .migrate(name, _):
                snapshots[name]?.phase = .migrating
            case let .decommission(name):
                snapshots[name]?.phase = .decommissioning
            }
        }
        let hostSnapshots = hosts.map { host in
            HostSnapshot(
                name: host.name, zone: host.zone,
                coordinate: GeoCoordinate(latitude: host.latitude, longitude: host.longitude),
                trust: trust(host.trust),
                capacity: ResourceAmount(
                    vcpus: host.cpus > 0 ? host.cpus : host.isLocal ? machine.cpus : unknownSize,
                    memoryMiB: host.memoryMiB > 0 ? host.memoryMiB : host.isLocal ? machine.memoryMiB : unknownSize,
                    cvms: unlimitedCVMs),
                used: used[host.name] ?? .zero, costPerHour: host.costPerHour,
                latencyMs: host.isLocal ? (host.latencyMs ?? 0) : (host.latencyMs ?? .infinity),
                hypervisors: HypervisorSet(names: host.hypervisorKinds) ?? .all,
                cpuSpeed: 1, load: host.isLocal ? machine.load : remoteLoad[host.name] ?? 0)
        }
        // A CVM on a host the registry forgot stays in the list: the planner reports it as not
        // compliant ("host is not in the inventory").
        return HostInventory(hosts: hostSnapshots, cvms: snapshots.values.sorted { $0.id < $1.id })
    }

    static func phase(of state: CVMRecord.State) -> CVMPhase {
        switch state {
        case .deploying: .deploying
        // Unconfirmed: believed running until its host answers or is declared lost.
        case .running, .unknown: .running
        case .failed, .fencing: .failed
        case .stopping: .decommissioning
        case .migrating: .migrating
        }
    }

    static func trust(_ trust: HostRecord.Trust) -> HostTrust {
        switch trust {
        case .local: .local
        case .private: .privateCloud
        case .public: .publicCloud
        }
    }
}
