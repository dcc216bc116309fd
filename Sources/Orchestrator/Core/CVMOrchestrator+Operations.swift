import Foundation

/// The operator's requests, each handed to the focused part that carries it out.
extension CVMOrchestrator {
    /// Delivers a `configure` (the member's role, these peers) to one member's agent; true
    /// when it was delivered. The heartbeat monitor sends on the channel it already holds.
    public typealias AgentConfigurer = @Sendable (CVMRecord, [String]) async -> Bool
    public typealias HostProbe = Orchestrator.HostProbe
    public static let clusterSizes = ClusterManager.clusterSizes

    /// See ``CVMDeployer/deploy(_:progress:)``.
    public func deploy(_ request: DeployRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> DeployResult {
        try await deployer.deploy(request, progress: progress)
    }

    /// See ``CVMDeployer/decommission(name:grace:drain:)``.
    /// An interrupted migration of it is settled first, so it removes what really runs.
    public func decommission(name: String, grace: Duration = .seconds(10), drain: Duration = .seconds(30)) async throws -> DecommissionResult {
        await migrator.reconcileInterrupted()
        return try await deployer.decommission(name: name, grace: grace, drain: drain)
    }

    func teardown(_ record: CVMRecord, reason: String) async throws {
        try await deployer.teardown(record, reason: reason)
    }

    /// See ``CVMMigrator/migrate(_:progress:)``.
    public func migrate(_ request: MigrateRequest, progress: @escaping @Sendable (MigrationProgress) -> Void = { _ in }) async throws -> MigrationResult {
        await migrator.reconcileInterrupted()
        return try await migrator.migrate(request, progress: progress)
    }

    /// See ``StatusReporter/status(now:)``.
    /// Interrupted migrations are settled first (each host within 10 s).
    public func status(now: Date = Date()) async throws -> StatusReport {
        await migrator.reconcileInterrupted()
        return try await statusReporter.status(now: now)
    }

    // MARK: Clusters

    public func createCluster(_ request: ClusterRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterReport {
        try await clusters.createCluster(request, progress: progress)
    }

    public func clusterReport(name: String) throws -> ClusterReport { try clusters.clusterReport(name: name) }
    public func clusterReports() throws -> [ClusterReport] { try clusters.clusterReports() }

    @discardableResult
    public func promoteIfMasterLost(cluster name: String, configurer: AgentConfigurer? = nil) async throws -> String? {
        try await clusters.promoteIfMasterLost(cluster: name, configurer: configurer)
    }

    public func healCluster(name: String, configurer: AgentConfigurer? = nil,
                            progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterHealResult {
        try await clusters.healCluster(name: name, configurer: configurer, progress: progress)
    }

    public func deleteCluster(name: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> [DecommissionResult] {
        try await clusters.deleteCluster(name: name, progress: progress)
    }

    public func clusterIsBusy(_ cluster: ClusterRecord) -> Bool { clusters.clusterIsBusy(cluster) }

    func configureMembers(cluster name: String, all: Bool = true, configurer: AgentConfigurer? = nil) async -> (configured: [String], unreachable: [String]) {
        await clusters.configureMembers(cluster: name, all: all, configurer: configurer)
    }

    public func configureAgent(_ member: CVMRecord, peers: [String]) async -> Bool {
        await clusters.configureAgent(member, peers: peers)
    }

    // MARK: Hosts

    @discardableResult
    public func addHost(_ spec: HostSpec) async throws -> HostRecord { try await hosts.addHost(spec) }
    public func removeHost(named name: String) async throws { try await hosts.removeHost(named: name) }
    public func probeHost(named name: String) async throws -> HostProbe { try await hosts.probeHost(named: name) }
    func knownHostsPath(_ name: String) -> String { hosts.knownHostsPath(name) }
}
