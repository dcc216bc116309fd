import CVMProtocol
import Foundation
import Libvirt

/// The ``Hypervisor`` of one host through libvirt: its connection, the host's CVM volume
/// pool and its content-addressed image cache (``HostStorage``). Libvirt calls run one at a
/// time per connection (`LibvirtConnection.serially`), except a migration and the progress
/// and abort calls made during it; remote uploads go over the orchestrator's own SSH
/// session, on ``LibvirtExecutor``.
package struct LibvirtHypervisor: Hypervisor {
    package let host: HostRecord
    package let connection: LibvirtConnection
    /// The host's pinned known_hosts file, for artifact uploads to a remote host.
    let knownHostsPath: String

    package init(host: HostRecord, connection: LibvirtConnection, knownHostsPath: String) {
        self.host = host
        self.connection = connection
        self.knownHostsPath = knownHostsPath
    }

    package var hostName: String { host.name }
    package var isConnected: Bool { connection.isAlive }

    package func ping() async throws {
        let connection = self.connection
        _ = try await connection.serially { try connection.nodeInfo() }
    }

    package func onLifecycleEvents(_ handler: @escaping @Sendable (LifecycleEvent) -> Void) async throws -> any Sendable {
        let connection = self.connection
        return try await connection.serially { try connection.onLifecycleEvents(handler) }
    }
    var storage: HostStorage { HostStorage(host: host, connection: connection) }

    package func lookupDomain(named name: String) async throws -> (any HypervisorDomain)? {
        let connection = self.connection
        return try await connection.serially { try connection.lookupDomain(name: name).map(LibvirtHypervisorDomain.init) }
    }

    package func defineDomain(_ definition: DomainDefinition) async throws -> any HypervisorDomain {
        let connection = self.connection
        let xml = definition.xml
        return try await connection.serially { LibvirtHypervisorDomain(domain: try connection.defineDomain(xml: xml)) }
    }

    package func allDomains() async throws -> [any HypervisorDomain] {
        let connection = self.connection
        return try await connection.serially { try connection.allDomains().map(LibvirtHypervisorDomain.init) }
    }

    package func freeMemoryMiB() async -> UInt64 {
        let connection = self.connection
        return (try? await connection.serially { connection.freeMemory() / (1 << 20) }) ?? 0
    }

    package func stageArtifact(at path: String, sha256: String,
                               progress: @escaping @Sendable (Int64, Int64) -> Void) async throws -> String {
        let storage = self.storage
        let knownHosts = knownHostsPath
        return try await LibvirtExecutor.run {
            guard storage.host.isLocal else {
                // The checksum is computed on the host (sha256sum over SSH): libvirt would
                // only tell the file's size.
                return try RemoteAccess(host: storage.host, knownHosts: knownHosts)
                    .stage(artifact: path, sha256: sha256, progress: progress)
            }
            return try storage.stageLocally(artifact: path, sha256: sha256)
        }
    }

    package func ensureCVMNetwork(_ definition: CVMNetworkDefinition) async throws {
        let connection = self.connection, host = self.host
        let shell = HostShell(host: host, knownHosts: knownHostsPath)
        try await LibvirtExecutor.run {
            let result = try shell.run(definition.ensureScript)
            guard result.status == 0 else {
                throw OrchestratorError.hostRefused(host: host.name, reason: "its CVM network could not be set up: \(result.problem)")
            }
        }
        try await connection.serially { try HostNetwork.ensure(definition, on: connection, host: host.name) }
    }

    package func removeCVMNetwork(_ definition: CVMNetworkDefinition, entirely: Bool) async throws {
        let connection = self.connection, host = self.host
        let shell = HostShell(host: host, knownHosts: knownHostsPath)
        if entirely { try await connection.serially { try HostNetwork.remove(on: connection) } }
        try await LibvirtExecutor.run {
            let result = try shell.run(definition.removalScript(onlyTunnels: !entirely))
            guard result.status == 0 else {
                throw OrchestratorError.hostRefused(host: host.name, reason: "its CVM network could not be removed: \(result.problem)")
            }
        }
    }

    package func ipv4Networks() async throws -> [LocalNetworks.Interface] {
        let host = self.host
        guard !host.isLocal else { return LocalNetworks.current() }
        let shell = HostShell(host: host, knownHosts: knownHostsPath)
        return try await LibvirtExecutor.run {
            let result = try shell.run("PATH=/usr/sbin:/usr/bin:/sbin:/bin ip -4 -o addr show")
            guard result.status == 0 else {
                throw OrchestratorError.hostRefused(host: host.name, reason: "`ip -4 addr` failed there: \(result.problem)")
            }
            return LocalNetworks.parse(ipAddrOutput: result.stdout)
        }
    }

    package func installMigrationCredentials(_ tls: MigrationTLS, _ credentials: MigrationTLS.Credentials) async throws {
        let host = storage.host
        let knownHosts = knownHostsPath
        try await LibvirtExecutor.run {
            if host.isLocal {
                try tls.installLocally(credentials, hostName: host.name)
            } else {
                try tls.installRemotely(credentials, host: host, knownHosts: knownHosts)
            }
        }
    }

    package func hasCachedArtifact(sha256: String) async throws -> Bool {
        let storage = self.storage
        let knownHosts = knownHostsPath
        return try await LibvirtExecutor.run {
            guard storage.host.isLocal else {
                return try RemoteAccess(host: storage.host, knownHosts: knownHosts).hasCached(sha256: sha256)
            }
            return storage.locallyCached(sha256: sha256)
        }
    }

    package func cachedArtifactPath(sha256: String) -> String {
        (storage.cachePath as NSString).appendingPathComponent(sha256)
    }

    package func createVolume(named name: String, capacityBytes: UInt64, contents: [UInt8]?) async throws -> String {
        let storage = self.storage
        return try await connection.serially {
            do {
                let volume = try storage.pool().createVolume(xml: StorageVolumeDefinition(
                    name: name, capacityBytes: capacityBytes, format: "raw").xml)
                if let contents { try volume.upload(contents) }
                return try volume.path
            } catch where DiskSpace.isFull(error) {
                // The caller's rollback deletes the volume by name.
                throw DiskSpace.error(writing: (storage.volumesPath as NSString).appendingPathComponent(name),
                                      needed: storage.host.isLocal ? contents.map { UInt64($0.count) } : nil)
            }
        }
    }

    package func deleteVolumes(named names: [String]) async throws {
        let storage = self.storage
        try await connection.serially {
            guard let pool = try storage.connection.lookupStoragePool(name: storage.poolName) else { return }
            try? pool.refresh()
            for name in names { try pool.lookupVolume(name: name)?.delete() }
        }
    }

    package func volumeNames() async throws -> [String] {
        let storage = self.storage
        return try await connection.serially {
            guard let pool = try storage.connection.lookupStoragePool(name: storage.poolName) else { return [] }
            try? pool.refresh()
            return try pool.volumeNames()
        }
    }

    package func jobCompletions(ofDomain name: String) async throws -> (events: AsyncStream<JobCompleted>, registration: any Sendable) {
        let (events, continuation) = AsyncStream.makeStream(of: JobCompleted.self)
        let connection = self.connection
        let registration = try await connection.serially {
            try connection.onJobCompleted { event in
                if event.domainName == name { continuation.yield(event) }
            }
        }
        return (events, registration)
    }

    package func kvmBootProblem(kernel: String, workDirectory: String) -> String? {
        KVMBootProbe.run(connection: connection, kernel: kernel, workDirectory: workDirectory)
    }
}

/// A libvirt domain as a ``HypervisorDomain``.
struct LibvirtHypervisorDomain: HypervisorDomain {
    let domain: LibvirtDomain

    var name: String { domain.name }
    var uuid: String { domain.uuid }

    func start() async throws {
        let domain = self.domain
        try await domain.connection.serially { try domain.start() }
    }

    func destroy() async throws {
        let domain = self.domain
        try await domain.connection.serially { try domain.destroy() }
    }

    func undefine() async throws {
        let domain = self.domain
        try await domain.connection.serially { if domain.isPersistent { try domain.undefine() } }
    }

    func state() async throws -> DomainState {
        let domain = self.domain
        return try await domain.connection.serially { try domain.state() }
    }

    func isActive() async -> Bool {
        let domain = self.domain
        return (try? await domain.connection.serially { domain.isActive }) ?? false
    }

    func xml(migratable: Bool) async throws -> String {
        let domain = self.domain
        return try await domain.connection.serially { try domain.xml(migratable: migratable) }
    }

    func cvmMetadata() async -> CVMMetadata? {
        let domain = self.domain
        let text = try? await domain.connection.serially { try domain.metadata(namespace: CVMMetadata.namespace) }
        return (text ?? nil).flatMap { CVMMetadata(metadataXML: $0) }
    }

    func openAgentChannel(cvmID: String, secret: [UInt8], force: Bool) async throws -> any AgentLink {
        let domain = self.domain
        return try await domain.connection.serially { try AgentChannel(domain: domain, cvmID: cvmID, secret: secret, force: force) }
    }

    func setMaxDowntime(milliseconds: UInt64) async throws {
        let domain = self.domain
        try await domain.connection.serially { try domain.setMaxDowntime(milliseconds: milliseconds) }
    }

    func migrate(to destination: any Hypervisor, options: MigrationOptions) async throws {
        guard let target = destination as? LibvirtHypervisor else {
            throw OrchestratorError.invalidArgument("cannot migrate a libvirt domain to host '\(destination.hostName)': it is not reached through libvirt")
        }
        let domain = self.domain
        // Not serialized: the migration call lasts as long as the copy, and progress and
        // abort must reach the same connection meanwhile (both hosts answer while it runs).
        try await LibvirtExecutor.run { _ = try domain.migrate(to: target.connection, options: options) }
    }

    func jobProgress() async throws -> JobProgress {
        let domain = self.domain
        return try await LibvirtExecutor.run { try domain.jobProgress() }
    }

    func abortJob() async throws {
        let domain = self.domain
        try await LibvirtExecutor.run { try domain.abortJob() }
    }
}

extension AgentChannel: AgentLink {}
