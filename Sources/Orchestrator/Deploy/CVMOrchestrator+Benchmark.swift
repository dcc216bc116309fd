import Libvirt
import CVMProtocol
import Foundation

extension CVMOrchestrator {
    /// A domain prepared exactly as deploy prepares one (same volumes, same XML) but not
    /// defined: the reference for the deploy benchmark's plain-libvirt runs.
    public struct PreparedDomain: Sendable {
        public var xml: String
        let cleanupVolumes: @Sendable () async throws -> Void
        public func cleanup() async throws { try await cleanupVolumes() }
    }

    public func preparePlainDomain(name: String, image: ImageCatalog.VerifiedImage) async throws -> PreparedDomain {
        let host = try host(named: Self.localHostName)
        let hypervisor = try await hypervisors.hypervisor(for: host)
        var secret = [UInt8](repeating: 0, count: 32)
        for i in secret.indices { secret[i] = UInt8.random(in: 0...255) }
        let record = CVMRecord(
            id: UUID().uuidString.lowercased(), name: name, image: image.manifest.name, imageVersion: image.manifest.version,
            task: image.manifest.tasks[0], role: .single, host: host.name, domainName: Self.domainName(for: name),
            state: .deploying, secret: Hex.encode(secret), vcpus: image.manifest.defaults.vcpus,
            memoryMiB: image.manifest.defaults.memoryMiB, diskMiB: image.manifest.defaults.diskMiB,
            intervalMs: configuration.heartbeatIntervalMs, virtType: "qemu", createdAt: Date())
        let config = try AgentConfig(id: record.id, name: name, task: record.task, role: .single, secret: secret)
        let volumes = try await deployer.createVolumes(record: record, config: config, image: image, on: hypervisor)
        let definition = DomainDefinition.cvm(record, owner: store.storeID, kernel: volumes.kernel,
                                              initrd: volumes.initrd, disk: volumes.disk,
                                              cmdline: image.manifest.boot.cmdline)
        return PreparedDomain(xml: definition.xml) {
            try await hypervisor.deleteVolumes(named: CVMVolumes.all(of: record))
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
        public let removeSourceVolumes: @Sendable () async throws -> Void
    }

    public func preparePlainMigration(cvm name: String, from sourceName: String, to destinationName: String) async throws -> PlainMigrationPlan {
        guard let record = try await store.cvm(named: name) else { throw OrchestratorError.unknownCVM(name) }
        let source = try host(named: sourceName)
        let destination = try host(named: destinationName)
        let sourceHV = try await hypervisors.hypervisor(for: source)
        let destinationHV = try await hypervisors.hypervisor(for: destination)
        guard let domain = try await sourceHV.lookupDomain(named: record.domainName) else { throw OrchestratorError.unknownCVM(name) }
        guard let address = destination.address ?? configuration.localMigrationAddress else {
            throw OrchestratorError.invalidArgument("set CVM_MIGRATION_ADDRESS")
        }
        let options = try await migrator.prepareDestination(record: record, domain: domain, source: sourceHV,
                                                            destination: destinationHV,
                                                            targetAddress: address, bandwidthMiBs: nil) { _, _ in }
        return PlainMigrationPlan(sourceURI: source.uri, destinationURI: destination.uri, domainName: record.domainName,
                                  options: options) {
            try await sourceHV.deleteVolumes(named: CVMVolumes.all(of: record))
        }
    }
}
