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
            for v in [HostStorage.initrdVolume(name), HostStorage.diskVolume(name)] { try pool.lookupVolume(name: v)?.delete() }
        }
    }
}
