import Libvirt
import Foundation

/// Remote hypervisors: registered after SSH reached them with a pinned key, probed, removed.
package struct HostManager: Sendable {
    let stateDirectory: String
    let store: Store
    let libvirt: LibvirtHypervisors
    let journal: Journal
    let segment: CVMSegment

    package init(stateDirectory: String, store: Store, libvirt: LibvirtHypervisors, journal: Journal, segment: CVMSegment) {
        self.stateDirectory = stateDirectory
        self.store = store
        self.libvirt = libvirt
        self.journal = journal
        self.segment = segment
    }

    /// The folder holding a remote host's pinned known_hosts file.
    static func hostDirectory(stateDirectory: String, _ name: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("hosts/\(name)")
    }

    func hostDirectory(_ name: String) -> String {
        Self.hostDirectory(stateDirectory: stateDirectory, name)
    }

    func knownHostsPath(_ name: String) -> String {
        (hostDirectory(name) as NSString).appendingPathComponent("known_hosts")
    }

    /// libvirt over SSH (see `LibvirtSSHTransport`): key auth only, the host key checked
    /// against the pinned known_hosts file (a mismatch and an unknown key are refused).
    static func libvirtURI(user: String, address: String, identity: String, knownHosts: String) -> String {
        LibvirtSSHTransport.uri(user: user, address: address, identity: identity,
                                wrapper: LibvirtSSHTransport.wrapperPath(knownHosts: knownHosts))
    }

    /// Registers a remote host after checking that SSH reaches it with the pinned host key
    /// (or, with `acceptNewHostKey`, pinning the key it presents) and the identity. Nothing
    /// is saved when that fails. Then joins the host to the CVM segment (its bridge,
    /// firewall and libvirt network, a tunnel each way); when that fails, what was made is
    /// removed again and the host is not added.
    @discardableResult
    package func addHost(_ spec: HostSpec) async throws -> HostRecord {
        try spec.validate()
        guard spec.name != CVMOrchestrator.localHostName else {
            throw OrchestratorError.invalidArgument("'local' is the local hypervisor and cannot be added")
        }
        if try await store.host(named: spec.name) != nil {
            throw OrchestratorError.invalidArgument("a host named '\(spec.name)' already exists; remove it first")
        }
        let identity = spec.identity.hasPrefix("/") ? spec.identity : FileManager.default.currentDirectoryPath + "/" + spec.identity
        let directory = hostDirectory(spec.name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let knownHosts = knownHostsPath(spec.name)
        let pinned = spec.hostKey.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
        try (pinned.map { "\(spec.address) \($0)\n" } ?? "").write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try LibvirtSSHTransport.writeWrapper(at: LibvirtSSHTransport.wrapperPath(knownHosts: knownHosts), knownHosts: knownHosts)
        var record = HostRecord(
            name: spec.name,
            uri: Self.libvirtURI(user: spec.user, address: spec.address, identity: identity, knownHosts: knownHosts),
            address: spec.address, user: spec.user, identity: identity, hostKey: pinned, zone: spec.zone,
            latitude: spec.latitude, longitude: spec.longitude, trust: spec.trust, cpus: spec.cpus,
            memoryMiB: spec.memoryMiB, costPerHour: spec.costPerHour, latencyMs: nil, dataDir: spec.dataDir,
            hypervisors: spec.hypervisors, addedAt: Date())
        do {
            let ssh = try RemoteAccess(host: record, knownHosts: knownHosts)
                .session(acceptNewHostKey: pinned == nil && spec.acceptNewHostKey)
            defer { ssh.disconnect() }
            if pinned == nil {
                let line = try String(contentsOfFile: knownHosts, encoding: .utf8).split(separator: "\n").first
                record.hostKey = line.map { $0.split(separator: " ").dropFirst().prefix(2).joined(separator: " ") }
            }
            try await segment.attach(record)
        } catch {
            try? await segment.detach(record)
            segment.hypervisors.forget(host: record.name)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        try await store.save(record)
        await journal("host.added", host: spec.name, "\(spec.user)@\(spec.address) trust \(spec.trust.rawValue) zone \(spec.zone) key \(record.hostKey?.split(separator: " ").first ?? "?")")
        return record
    }

    /// Forgets a host, after taking it out of the CVM segment (the hub's tunnel always; the
    /// host's own bridge, firewall and libvirt network when it answers). Refused while CVMs
    /// run there.
    package func removeHost(named name: String) async throws {
        guard name != CVMOrchestrator.localHostName else {
            throw OrchestratorError.invalidArgument("the local host cannot be removed")
        }
        let host = try await store.requireHost(named: name)
        let here = try await store.cvms().filter { $0.host == name }
        guard here.isEmpty else {
            throw OrchestratorError.invalidArgument("host '\(name)' still runs \(here.count) CVM(s) (\(here.map(\.name).joined(separator: ", "))); migrate or decommission them first")
        }
        var note = "removed"
        do {
            try await segment.detach(host)
        } catch {
            note = "removed; its CVM network could not be cleaned up there (\(error)): delete bridge \(CVMNetworkDefinition.bridgeName) and nft table inet \(CVMNetworkDefinition.firewallTable) by hand"
        }
        segment.hypervisors.forget(host: name)
        try await store.deleteHost(named: name)
        try? FileManager.default.removeItem(atPath: hostDirectory(name))
        await journal("host.removed", host: name, note)
    }

    /// Connects to the host's libvirtd (through SSH for remote hosts), reads its version
    /// and capacity and measures the round-trip time of a libvirt call (median of 5).
    /// Throws the operator error that says why when the host cannot be reached.
    package func probeHost(named name: String) async throws -> HostProbe {
        let host = try await store.requireHost(named: name)
        let result = try await LibvirtExecutor.run { () -> HostProbe in
                let c = try libvirt.connection(to: host)
                var rtts: [Double] = []
                for _ in 0..<5 {
                    let t0 = ContinuousClock.now
                    _ = try c.daemonVersion
                    let d = ContinuousClock.now - t0
                    rtts.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
                }
                let node = try c.nodeInfo()
                return HostProbe(name: host.name, reachable: true, hostname: try c.hostname, libvirtVersion: try c.daemonVersion,
                                 cpus: node.cpus, memoryMiB: Int(node.memoryKiB / 1024),
                                 freeMemoryMiB: Int(c.freeMemory() / (1 << 20)), roundTripMs: rtts.sorted()[2])
            }
        var updated = host
        updated.latencyMs = result.roundTripMs
        if updated.cpus == 0, let cpus = result.cpus { updated.cpus = cpus }
        if updated.memoryMiB == 0, let memory = result.memoryMiB { updated.memoryMiB = memory }
        try await store.save(updated)
        return result
    }
}

/// What a probe found.
public struct HostProbe: Sendable, Codable {
    public var name: String
    public var reachable: Bool
    public var hostname: String?
    public var libvirtVersion: String?
    public var cpus: Int?
    public var memoryMiB: Int?
    public var freeMemoryMiB: Int?
    public var roundTripMs: Double?
    public var error: String?
}
