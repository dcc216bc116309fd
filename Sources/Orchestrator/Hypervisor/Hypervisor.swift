import CVMProtocol
import Libvirt

/// One host's hypervisor, as the orchestrator uses it: the narrow surface deploy, migrate,
/// decommission, clusters and status need, and nothing else.
///
/// The real implementation is ``LibvirtHypervisor`` (a libvirt connection plus the host's
/// storage pool and image cache); unit tests use an in-memory fake that can fail at any step,
/// so every rollback path is exercised without a daemon. Every call may block on a remote
/// daemon: implementations run it off the caller's executor.
package protocol Hypervisor: Sendable {
    /// The store's name of the host this hypervisor runs on.
    var hostName: String { get }

    // MARK: Domains
    func lookupDomain(named name: String) async throws -> (any HypervisorDomain)?
    /// Defines a persistent domain (does not start it).
    func defineDomain(_ definition: DomainDefinition) async throws -> any HypervisorDomain
    /// Every domain the hypervisor knows, running or defined.
    func allDomains() async throws -> [any HypervisorDomain]
    /// Free memory in MiB; 0 when unknown.
    func freeMemoryMiB() async -> UInt64

    // MARK: Storage
    /// Puts an image artifact into the host's content-addressed cache (a local copy, or an
    /// upload when the host lacks a file with that sha256) and returns its path on the host.
    /// A cached file is reused only when its content hashes to `sha256` on the host: one
    /// that does not (bit rot, a truncated copy, tampering) is replaced.
    func stageArtifact(at path: String, sha256: String, progress: @escaping @Sendable (Int64, Int64) -> Void) async throws -> String
    /// Makes the host's part of the CVM segment (``CVMNetworkDefinition``: bridge, tunnels,
    /// firewall, libvirt network) exist and run; idempotent.
    func ensureCVMNetwork(_ definition: CVMNetworkDefinition) async throws
    /// Removes the definition's tunnels, and with `entirely` the host's whole part of the
    /// segment; nothing to do for what is gone.
    func removeCVMNetwork(_ definition: CVMNetworkDefinition, entirely: Bool) async throws
    /// The IPv4 networks of the host's interfaces (loopback excluded), to keep the CVM subnet
    /// clear of them.
    func ipv4Networks() async throws -> [LocalNetworks.Interface]
    /// Installs this orchestrator's migration TLS credentials where the host's QEMU looks for
    /// them (`/etc/pki/qemu`), unless they are there already; refuses to overwrite
    /// certificates it did not install (see ``MigrationTLS``).
    func installMigrationCredentials(_ tls: MigrationTLS, _ credentials: MigrationTLS.Credentials) async throws
    /// True when the cache holds the artifact named by its sha256 and its content hashes to
    /// that sha256 on the host (a name and a size prove nothing).
    func hasCachedArtifact(sha256: String) async throws -> Bool
    /// The path the cache gives an artifact of this sha256 (whether it is there or not).
    func cachedArtifactPath(sha256: String) -> String
    /// Creates a raw volume in the host's CVM pool, optionally writing `contents` at its
    /// start, and returns its path.
    func createVolume(named name: String, capacityBytes: UInt64, contents: [UInt8]?) async throws -> String
    /// Deletes volumes of the host's CVM pool; absent ones are skipped.
    func deleteVolumes(named names: [String]) async throws
    /// Names of the volumes in the host's CVM pool.
    func volumeNames() async throws -> [String]

    // MARK: Connection
    /// False once the connection under this hypervisor is known to be dead (closed by the
    /// daemon, keepalive expired). No I/O: a link that dropped silently still looks alive
    /// until the keepalive notices; the monitor probes with a deadline for that.
    var isConnected: Bool { get }
    /// One cheap round trip to the daemon; throws when it fails.
    func ping() async throws

    // MARK: Events
    /// Delivers lifecycle events of the host's domains to `handler` (on an event thread:
    /// queue them, do no I/O there) until the returned registration is released.
    func onLifecycleEvents(_ handler: @escaping @Sendable (LifecycleEvent) -> Void) async throws -> any Sendable
    /// Job-completed events of the named domain until `registration` is released.
    func jobCompletions(ofDomain name: String) async throws -> (events: AsyncStream<JobCompleted>, registration: any Sendable)

    // MARK: Virtualization type
    /// Why KVM cannot run this kernel here, or nil when a real boot under KVM worked.
    /// Blocks for the length of a probe boot: call it off the cooperative pool.
    func kvmBootProblem(kernel: String, workDirectory: String) -> String?
}

/// A domain on a ``Hypervisor``.
package protocol HypervisorDomain: Sendable {
    var name: String { get }
    /// The domain's UUID; the orchestrator gives every CVM's domain the CVM's id.
    var uuid: String { get }
    func start() async throws
    /// Hard stop; succeeds quietly when the domain is already stopped.
    func destroy() async throws
    /// Removes the persistent definition; succeeds quietly for a transient domain.
    func undefine() async throws
    func state() async throws -> DomainState
    func isActive() async -> Bool
    /// The live XML (`migratable`: the form another host accepts).
    func xml(migratable: Bool) async throws -> String
    /// The orchestrator's metadata element, nil when the domain carries none.
    func cvmMetadata() async -> CVMMetadata?
    /// Opens the agent's channel. `force` takes it over from another client.
    func openAgentChannel(cvmID: String, secret: [UInt8], force: Bool) async throws -> any AgentLink

    // MARK: Live migration
    func setMaxDowntime(milliseconds: UInt64) async throws
    /// Blocks until the migration job ended; the domain then runs on `destination`.
    func migrate(to destination: any Hypervisor, options: MigrationOptions) async throws
    func jobProgress() async throws -> JobProgress
    func abortJob() async throws
}

/// The orchestrator's end of one agent channel: authenticated events in, signed commands out.
package protocol AgentLink: Sendable {
    var events: AsyncStream<AgentChannel.Event> { get }
    /// Sends a signed command; returns its sequence number (the agent's `ACK` carries it).
    @discardableResult
    func send(_ op: Command.Operation, role: AgentConfig.Role?, peers: [String], probe: ProbeTarget?, config: String?) async throws -> UInt64
    /// Closes our end; the agent keeps running and the channel can be opened again.
    func close()
}

/// Opens (and caches) the ``Hypervisor`` of each host.
package protocol HypervisorProvider: Sendable {
    func hypervisor(for host: HostRecord) async throws -> any Hypervisor
    /// Forgets the host's cached connection (one that stopped answering without being
    /// closed): the next `hypervisor(for:)` opens a new one.
    func forget(host: String)
    /// A provider with connections of its own, for a long-running watcher (the heartbeat
    /// monitor) whose calls must not queue behind a deploy's or a migration's on a shared
    /// connection. Fakes may return themselves.
    func dedicated() -> any HypervisorProvider
}

extension HypervisorProvider {
    package func forget(host: String) {}
    package func dedicated() -> any HypervisorProvider { self }
}

extension AgentLink {
    /// Sends a signed command that carries no role or peers.
    @discardableResult
    package func send(_ op: Command.Operation) async throws -> UInt64 { try await send(op, role: nil, peers: [], probe: nil, config: nil) }

    /// Sends a signed `configure` command.
    @discardableResult
    package func send(_ op: Command.Operation, role: AgentConfig.Role?, peers: [String]) async throws -> UInt64 {
        try await send(op, role: role, peers: peers, probe: nil, config: nil)
    }
}
