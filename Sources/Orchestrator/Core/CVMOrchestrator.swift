import Foundation
import Libvirt
import Logging

/// The orchestration library's entry point: one value that builds the focused parts —
/// ``CVMDeployer``, ``CVMMigrator``, ``ClusterManager``, ``HostManager``,
/// ``StatusReporter`` — over one store, image catalog and set of hypervisors, and forwards
/// the operator's requests to them. It holds no logic of its own. Safe to share across tasks.
public final class CVMOrchestrator: Sendable {
    public let configuration: OrchestratorConfiguration
    public let store: Store
    public let catalog: ImageCatalog
    let logger: Logger
    let journal: Journal
    /// libvirt connections to every host, reused within the process.
    let libvirt: LibvirtHypervisors
    /// What deploy, migrate, clusters and status act through (libvirt, or a fake in tests).
    let hypervisors: any HypervisorProvider

    package let deployer: CVMDeployer
    package let migrator: CVMMigrator
    package let clusters: ClusterManager
    package let hosts: HostManager
    package let segment: CVMSegment
    package let statusReporter: StatusReporter

    public static let localHostName = "local"

    public convenience init(configuration: OrchestratorConfiguration, logger: Logger = Logger(label: "cvm.orchestrator")) throws {
        try self.init(configuration: configuration, logger: logger, hypervisors: nil)
    }

    /// - Parameter hypervisors: what deploy, migrate, clusters and status act through;
    ///   nil for the hosts' libvirt daemons.
    package init(configuration: OrchestratorConfiguration, logger: Logger = Logger(label: "cvm.orchestrator"),
                 hypervisors: (any HypervisorProvider)?) throws {
        self.configuration = configuration
        self.logger = logger
        let store = try Store(directory: configuration.stateDirectory)
        self.store = store
        self.catalog = ImageCatalog(root: configuration.imagesDirectory)
        let stateDirectory = configuration.stateDirectory
        let libvirt = LibvirtHypervisors { name in
            (HostManager.hostDirectory(stateDirectory: stateDirectory, name) as NSString).appendingPathComponent("known_hosts")
        }
        self.libvirt = libvirt
        let provider = hypervisors ?? libvirt
        self.hypervisors = provider
        let journal = Journal(store: store, logger: logger)
        self.journal = journal
        let deployer = CVMDeployer(configuration: configuration, store: store, catalog: catalog,
                                   hypervisors: provider, journal: journal, logger: logger)
        self.deployer = deployer
        self.migrator = CVMMigrator(configuration: configuration, store: store, catalog: catalog,
                                    hypervisors: provider, journal: journal, logger: logger)
        self.clusters = ClusterManager(store: store, catalog: catalog, hypervisors: provider, deployer: deployer, journal: journal)
        let segment = CVMSegment(subnet: configuration.cvmSubnet, store: store, hypervisors: provider)
        self.segment = segment
        self.hosts = HostManager(stateDirectory: stateDirectory, store: store, libvirt: libvirt, journal: journal, segment: segment)
        self.statusReporter = StatusReporter(store: store, hypervisors: provider)
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
                                  dataDir: dataDir, hypervisors: ["qemu", "kvm"], addedAt: Date()))
    }

    public func host(named name: String) throws -> HostRecord {
        try store.requireHost(named: name)
    }

    /// An open connection to a host's libvirtd, reused within this process. Blocks.
    public func connection(to host: HostRecord) throws -> LibvirtConnection {
        try libvirt.connection(to: host)
    }

    /// Closes every libvirt connection this instance opened. Call it before the process
    /// exits: a remote connection's SSH transport is driven by libvirt's event thread, and
    /// tearing down OpenSSL at exit under it can crash the process.
    public func close() {
        libvirt.closeAll()
    }

    func journal(_ kind: String, cvm: String? = nil, host: String? = nil, _ message: String, policyCommit: String? = nil) {
        journal(kind, cvm: cvm, host: host, message, policyCommit: policyCommit)
    }

    static func domainName(for cvm: String) -> String { CVMNaming.domainName(for: cvm) }
    static func isValidName(_ name: String) -> Bool { CVMNaming.isValid(name) }

    /// The libvirt pool holding this state directory's local volumes.
    public var localPoolName: String? {
        guard let host = try? store.host(named: Self.localHostName) else { return nil }
        return HostStorage.poolName(dataDir: host.dataDir)
    }
}
