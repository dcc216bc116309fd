import CVMProtocol
import Foundation
import Synchronization

/// The CVM segment across hosts (see ``CVMNetworkDefinition`` for the topology): joins a host
/// to it (the host's bridge, firewall and libvirt network, its tunnel to the hub and the hub's
/// tunnel to it), and takes a host out again. Every step is idempotent, so deploys and
/// migrations call ``attach(_:)`` for their target host each time: a host that rebooted, or a
/// tunnel someone deleted, is repaired on the next use.
package struct CVMSegment: Sendable {
    let subnet: IPv4Subnet
    let store: Store
    let hypervisors: any HypervisorProvider

    package init(subnet: IPv4Subnet, store: Store, hypervisors: any HypervisorProvider) {
        self.subnet = subnet
        self.store = store
        self.hypervisors = hypervisors
    }

    /// The hub's tunnel to `host`, and the host's to the hub, seen from the hub's side.
    func tunnels(for host: HostRecord) throws -> (hubSide: CVMNetworkDefinition.Tunnel, hostSide: CVMNetworkDefinition.Tunnel) {
        guard let address = host.address else { throw OrchestratorError.invalidArgument("host '\(host.name)' is not a cloud host") }
        guard let underlay = LocalNetworks.sourceAddress(toward: address) else {
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "no route from this machine to \(address) for the CVM segment's tunnel")
        }
        guard underlay != address else {
            throw OrchestratorError.invalidArgument("host '\(host.name)' at \(address) is this machine, the CVM segment's hub; add other machines as hosts")
        }
        // From the address, not the name: one machine registered under two names gets one
        // tunnel, not two parallel ones (a loop between the bridges, and a broadcast storm).
        let vni = CVMNetworkDefinition.vni(for: address)
        return (.init(peerHost: host.name, vni: vni, remote: address),
                .init(peerHost: CVMOrchestrator.localHostName, vni: vni, remote: underlay))
    }

    /// Makes `host` part of the segment. The subnet must not overlap any network of the
    /// host's (nor of the hub's): a CVM address that is also a host's would be unreachable
    /// or, worse, reach the wrong machine.
    package func attach(_ host: HostRecord) async throws {
        // A long-running process (elastic mode, a cluster's repairs) deploys again and again:
        // one check a minute per host is enough to repair what went missing.
        let key = "\(store.storeID)|\(host.name)|\(host.address ?? "")|\(subnet)"
        let now = ContinuousClock.now
        if let last = Self.attached.withLock({ $0[key] }), now - last < .seconds(60) { return }
        try await ensure(host)
        Self.attached.withLock { $0[key] = now }
    }

    private static let attached = Mutex<[String: ContinuousClock.Instant]>([:])

    private func ensure(_ host: HostRecord) async throws {
        let hubRecord = try await store.requireHost(named: CVMOrchestrator.localHostName)
        let hub = try await hypervisors.hypervisor(for: hubRecord)
        if let clash = LocalNetworks.conflict(of: subnet, with: try await hub.ipv4Networks(), where: "this machine",
                                              ownBridge: CVMNetworkDefinition.bridgeName) {
            throw OrchestratorError.invalidArgument(clash)
        }
        guard !host.isLocal else {
            try await hub.ensureCVMNetwork(CVMNetworkDefinition(subnet: subnet, carriesGateway: true))
            return
        }
        let target = try await hypervisors.hypervisor(for: host)
        if let clash = LocalNetworks.conflict(of: subnet, with: try await target.ipv4Networks(), where: "host '\(host.name)'",
                                              ownBridge: CVMNetworkDefinition.bridgeName) {
            throw OrchestratorError.invalidArgument(clash)
        }
        let (hubSide, hostSide) = try tunnels(for: host)
        try await target.ensureCVMNetwork(CVMNetworkDefinition(subnet: subnet, carriesGateway: false, tunnels: [hostSide]))
        try await hub.ensureCVMNetwork(CVMNetworkDefinition(subnet: subnet, carriesGateway: true, tunnels: [hubSide]))
    }

    /// Takes a cloud host out of the segment: the hub's tunnel to it, then (when the host
    /// answers) its whole part. The hub's side goes even when the host is unreachable. Nothing
    /// is removed while another host record names the same machine (address).
    package func detach(_ host: HostRecord) async throws {
        guard !host.isLocal else { return }
        if try await store.hosts().contains(where: { $0.name != host.name && $0.address == host.address }) { return }
        let prefix = "\(store.storeID)|\(host.name)|"
        Self.attached.withLock { $0 = $0.filter { !$0.key.hasPrefix(prefix) } }
        let (hubSide, hostSide) = try tunnels(for: host)
        let hubRecord = try await store.requireHost(named: CVMOrchestrator.localHostName)
        try await hypervisors.hypervisor(for: hubRecord)
            .removeCVMNetwork(CVMNetworkDefinition(subnet: subnet, carriesGateway: true, tunnels: [hubSide]), entirely: false)
        try await hypervisors.hypervisor(for: host)
            .removeCVMNetwork(CVMNetworkDefinition(subnet: subnet, carriesGateway: false, tunnels: [hostSide]), entirely: true)
    }
}
