import Libvirt
import CVMProtocol
import Foundation

extension CVMOrchestrator {
    /// A domain prepared exactly as deploy prepares one (same volumes, same XML) but not
    /// defined: the reference for the deploy benchmark's plain-libvirt runs.
    public struct PreparedDomain: Sendable {
        public var xml: String
        let cleanupVolumes: @Sendable () throws -> Void
        public func cleanup() throws { try cleanupVolumes() }
    }

    public func preparePlainDomain(name: String, image: ImageCatalog.VerifiedImage,
                                   connection: LibvirtConnection) throws -> PreparedDomain {
        let host = try host(named: Self.localHostName)
        var secret = [UInt8](repeating: 0, count: 32)
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255) }
        let record = CVMRecord(
            id: UUID().uuidString.lowercased(), name: name, image: image.manifest.name, imageVersion: image.manifest.version,
            task: image.manifest.tasks[0], role: "single", host: host.name, domainName: Self.domainName(for: name),
            state: .deploying, secret: Hex.encode(secret), vcpus: image.manifest.defaults.vcpus,
            memoryMiB: image.manifest.defaults.memoryMiB, diskMiB: image.manifest.defaults.diskMiB,
            intervalMs: configuration.heartbeatIntervalMs, virtType: "qemu", createdAt: Date())
        let config = try AgentConfig(id: record.id, name: name, task: record.task, role: .single, secret: secret)
        let storage = HostStorage(host: host, connection: connection)
        let volumes = try createVolumes(record: record, config: config, image: image, storage: storage)
        let definition = DomainDefinition.cvm(record, owner: store.storeID, kernel: volumes.kernel,
                                              initrd: volumes.initrd, disk: volumes.disk,
                                              cmdline: image.manifest.boot.cmdline)
        let pool = try storage.pool()
        return PreparedDomain(xml: definition.xml) {
            for v in HostStorage.volumes(record) { try pool.lookupVolume(name: v)?.delete() }
        }
    }
}

extension CVMOrchestrator {
    /// Everything a plain libvirt migration of a CVM needs, prepared the way an operator
    /// would by hand (destination disk and files in place): the reference for the migration
    /// benchmark. The CVM's record is not changed.
    public struct PlainMigrationPlan: Sendable {
        public var sourceURI: String
        public var destinationURI: String
        public var domainName: String
        public var options: MigrationOptions
        /// Removes the CVM's volumes from the host it left.
        public let removeSourceVolumes: @Sendable () throws -> Void
    }

    public func preparePlainMigration(cvm name: String, from sourceName: String, to destinationName: String) async throws -> PlainMigrationPlan {
        guard let record = try await store.cvm(named: name) else { throw OrchestratorError.unknownCVM(name) }
        let source = try host(named: sourceName)
        let destination = try host(named: destinationName)
        let sourceConnection = try await LibvirtExecutor.run { try self.connection(to: source) }
        let destinationConnection = try await LibvirtExecutor.run { try self.connection(to: destination) }
        guard let domain = try sourceConnection.lookupDomain(name: record.domainName) else { throw OrchestratorError.unknownCVM(name) }
        guard let address = destination.address ?? configuration.localMigrationAddress else {
            throw OrchestratorError.invalidArgument("set CVM_MIGRATION_ADDRESS")
        }
        let sourceStorage = HostStorage(host: source, connection: sourceConnection)
        let options = try await prepareDestination(record: record, domain: domain, source: sourceStorage,
                                                   destination: destination,
                                                   storage: HostStorage(host: destination, connection: destinationConnection),
                                                   targetAddress: address, bandwidthMiBs: nil) { _, _ in }
        return PlainMigrationPlan(sourceURI: source.uri, destinationURI: destination.uri, domainName: record.domainName,
                                  options: options) {
            let pool = try sourceStorage.pool()
            for v in HostStorage.volumes(record) { try pool.lookupVolume(name: v)?.delete() }
        }
    }
}
