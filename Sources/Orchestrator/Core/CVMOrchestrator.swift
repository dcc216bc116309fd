import SSHClient
import Libvirt
import Foundation
import Logging
import Synchronization

/// The orchestration library's entry point: deploy, decommission, status and the rest act
/// through one instance. Safe to share across tasks.
public final class CVMOrchestrator: Sendable {
    public let configuration: OrchestratorConfiguration
    public let store: Store
    public let catalog: ImageCatalog
    let logger: Logger
    private let connections = Mutex<[String: LibvirtConnection]>([:])

    public static let localHostName = "local"

    public init(configuration: OrchestratorConfiguration, logger: Logger = Logger(label: "cvm.orchestrator")) throws {
        self.configuration = configuration
        self.logger = logger
        self.store = try Store(directory: configuration.stateDirectory)
        self.catalog = ImageCatalog(root: configuration.imagesDirectory)
        try ensureLocalHost()
    }

    /// The local hypervisor is always a host; its URI follows the configuration.
    private func ensureLocalHost() throws {
        let dataDir = (configuration.stateDirectory as NSString).appendingPathComponent("local")
        if var existing = try store.host(named: Self.localHostName) {
            if existing.uri != configuration.localURI || existing.dataDir != dataDir {
                existing.uri = configuration.localURI
                existing.dataDir = dataDir
                try store.save(existing)
            }
            return
        }
        try store.save(HostRecord(name: Self.localHostName, uri: configuration.localURI, address: nil, user: nil,
                                  identity: nil, hostKey: nil, zone: "local", latitude: 0, longitude: 0,
                                  trust: .local, cpus: 0, memoryMiB: 0, costPerHour: 0, latencyMs: 0,
                                  dataDir: dataDir, hypervisors: "qemu,kvm", addedAt: Date()))
    }

    public func host(named name: String) throws -> HostRecord {
        guard let host = try store.host(named: name) else { throw OrchestratorError.unknownHost(name) }
        return host
    }

    /// An open connection to a host's libvirtd, reused within this process.
    public func connection(to host: HostRecord) throws -> LibvirtConnection {
        let uri = host.uri
        if let cached = connections.withLock({ $0[host.name] }), cached.uri == uri, cached.isAlive { return cached }
        let connection: LibvirtConnection
        do {
            SSHLibrary.ensureInitialized()
            connection = try LibvirtConnection(uri: uri)
        } catch let error as LibvirtError {
            guard !host.isLocal else { throw OrchestratorError.libvirtUnreachable(uri: uri, reason: error.message) }
            // libvirt's transport reports every SSH fault alike; our own SSH check tells a
            // wrong or unknown host key, a refused login and an unreachable address apart.
            try RemoteAccess(host: host, knownHosts: knownHostsPath(host.name)).session(timeout: .seconds(5)).disconnect()
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "libvirt: \(error.message)")
        }
        connection.setKeepAlive()
        connections.withLock { $0[host.name] = connection }
        return connection
    }

    /// Closes every libvirt connection this instance opened. Call it before the process
    /// exits: a remote connection's SSH transport is driven by libvirt's event thread, and
    /// tearing down OpenSSL at exit under it can crash the process.
    public func close() {
        connections.withLock { $0.removeAll() }
    }

    func journal(_ kind: String, cvm: String? = nil, host: String? = nil, _ message: String, policyCommit: String? = nil) {
        do {
            try store.record(EventRecord(kind: kind, cvm: cvm, host: host, message: message, policyCommit: policyCommit))
        } catch {
            logger.warning("could not record event", metadata: ["cvm.event": "\(kind)", "cvm.error": "\(error)"])
        }
    }

    static func domainName(for cvm: String) -> String { "cvm-\(cvm)" }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter, first.isLowercase, name.count <= 40 else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }
}

extension CVMOrchestrator {
    /// The libvirt pool holding this state directory's local volumes.
    public var localPoolName: String? {
        guard let host = try? store.host(named: Self.localHostName) else { return nil }
        return HostStorage.poolName(dataDir: host.dataDir)
    }
}
