import CVMProtocol
import Foundation
import Libvirt
@testable import Orchestrator
import Synchronization

/// The failure an ``InMemoryHypervisor`` injects.
struct InjectedFailure: Error, Equatable, CustomStringConvertible {
    var step: InMemoryHypervisor.Step
    var description: String { "injected failure at \(step)" }
}

/// A ``Hypervisor`` held in memory: domains, volumes and an image cache as plain values, an
/// agent that answers like the real one (a heartbeat on every channel opened while the
/// domain runs, ACKs for commands, power-off on `stop`), and failure injection at any step.
/// It lets unit tests drive every rollback path without a daemon.
final class InMemoryHypervisor: Hypervisor, @unchecked Sendable {
    enum Step: String, Sendable, CaseIterable {
        case lookupDomain, defineDomain, startDomain, stageArtifact, createVolume, deleteVolumes
        case openChannel, setMaxDowntime, migrate, destroy, undefine, installCredentials, ensureNetwork
    }

    /// How the fake agent behaves once its channel is open.
    enum Agent: Sendable {
        /// Sends a heartbeat at once and ACKs commands.
        case healthy
        /// Never speaks (a guest that does not boot).
        case silent
        /// Closes the channel at once (a guest that crashes).
        case crashes
    }

    struct Domain: Sendable {
        var definition: DomainDefinition
        var running: Bool
    }

    struct State: Sendable {
        var domains: [String: Domain] = [:]
        var volumes: Set<String> = []
        var artifacts: [String: UInt64] = [:]
        var migrationCA: String?
        var cvmNetwork: CVMNetworkDefinition?
        var tunnels: [String: CVMNetworkDefinition.Tunnel] = [:]
        var interfaces: [LocalNetworks.Interface] = []
        var failures: [Step: Int] = [:]   // step -> how many more calls succeed before it fails
        var agent: Agent = .healthy
        /// A migration blocks until aborted (to test cancellation mid-copy).
        var migrationBlocks = false
        var migrationAborted = false
        var calls: [Step] = []
        /// The connection was closed (a daemon restart): callers must get a new hypervisor.
        var disconnected = false
        var lifecycleHandlers: [@Sendable (LifecycleEvent) -> Void] = []
    }

    let hostName: String
    let state = Mutex(State())

    init(hostName: String) {
        self.hostName = hostName
    }

    /// Fails the `(after + 1)`-th call of `step` from now on.
    func fail(_ step: Step, after: Int = 0) { state.withLock { $0.failures[step] = after } }
    func setAgent(_ agent: Agent) { state.withLock { $0.agent = agent } }
    func blockMigrations() { state.withLock { $0.migrationBlocks = true } }

    var isConnected: Bool { state.withLock { !$0.disconnected } }

    func ping() async throws {
        if !isConnected { throw OrchestratorError.hostUnreachable(host: hostName, reason: "in-memory connection closed") }
    }

    func onLifecycleEvents(_ handler: @escaping @Sendable (LifecycleEvent) -> Void) async throws -> any Sendable {
        state.withLock { $0.lifecycleHandlers.append(handler) }
        return hostName
    }

    var domainNames: [String] { state.withLock { $0.domains.keys.sorted() } }
    func definition(of domain: String) -> DomainDefinition? { state.withLock { $0.domains[domain]?.definition } }
    var runningDomainNames: [String] { state.withLock { $0.domains.filter(\.value.running).keys.sorted() } }
    var volumeNamesNow: [String] { state.withLock { $0.volumes.sorted() } }

    /// Counts the call and throws when a failure is due. Like the real hypervisor's bounded
    /// pool, it refuses work from a cancelled task.
    func check(_ step: Step) throws {
        try Task.checkCancellation()
        try state.withLock { s in
            s.calls.append(step)
            guard let remaining = s.failures[step] else { return }
            if remaining == 0 {
                s.failures[step] = nil
                throw InjectedFailure(step: step)
            }
            s.failures[step] = remaining - 1
        }
    }

    func lookupDomain(named name: String) async throws -> (any HypervisorDomain)? {
        try check(.lookupDomain)
        return state.withLock { $0.domains[name] } == nil ? nil : InMemoryDomain(hypervisor: self, name: name)
    }

    func defineDomain(_ definition: DomainDefinition) async throws -> any HypervisorDomain {
        try check(.defineDomain)
        try state.withLock { s in
            if s.domains[definition.name] != nil {
                throw LibvirtError(code: .domainExists, message: "domain '\(definition.name)' already exists", operation: "define")
            }
            s.domains[definition.name] = Domain(definition: definition, running: false)
        }
        return InMemoryDomain(hypervisor: self, name: definition.name)
    }

    func allDomains() async throws -> [any HypervisorDomain] {
        state.withLock { $0.domains.keys.sorted() }.map { InMemoryDomain(hypervisor: self, name: $0) }
    }

    func freeMemoryMiB() async -> UInt64 { 16_384 }

    func stageArtifact(at path: String, sha256: String, progress: @escaping @Sendable (Int64, Int64) -> Void) async throws -> String {
        try check(.stageArtifact)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        state.withLock { $0.artifacts[sha256] = size }
        return cachedArtifactPath(sha256: sha256)
    }

    /// Records the host's part of the segment: the last definition, and every tunnel it has.
    func ensureCVMNetwork(_ definition: CVMNetworkDefinition) async throws {
        try check(.ensureNetwork)
        state.withLock {
            $0.cvmNetwork = definition
            for tunnel in definition.tunnels { $0.tunnels[tunnel.peerHost] = tunnel }
        }
    }

    func removeCVMNetwork(_ definition: CVMNetworkDefinition, entirely: Bool) async throws {
        state.withLock {
            for tunnel in definition.tunnels { $0.tunnels[tunnel.peerHost] = nil }
            if entirely { $0.cvmNetwork = nil; $0.tunnels = [:] }
        }
    }

    func ipv4Networks() async throws -> [LocalNetworks.Interface] { state.withLock { $0.interfaces } }

    var cvmNetworkNow: CVMNetworkDefinition? { state.withLock { $0.cvmNetwork } }
    var tunnelsNow: [String: CVMNetworkDefinition.Tunnel] { state.withLock { $0.tunnels } }
    func setInterfaces(_ interfaces: [LocalNetworks.Interface]) { state.withLock { $0.interfaces = interfaces } }

    /// Records which CA's credentials the host got (no files: the real install is
    /// `MigrationTLSCredentialTests`' and `MigrationTLSTests`' subject).
    func installMigrationCredentials(_ tls: MigrationTLS, _ credentials: MigrationTLS.Credentials) async throws {
        try check(.installCredentials)
        let fingerprint = try tls.caFingerprint()
        state.withLock { $0.migrationCA = fingerprint }
    }

    var migrationCANow: String? { state.withLock { $0.migrationCA } }

    func hasCachedArtifact(sha256: String) async throws -> Bool { state.withLock { $0.artifacts[sha256] != nil } }
    func cachedArtifactPath(sha256: String) -> String { "/fake/\(hostName)/images/\(sha256)" }

    func createVolume(named name: String, capacityBytes: UInt64, contents: [UInt8]?) async throws -> String {
        try check(.createVolume)
        try state.withLock { s in
            guard s.volumes.insert(name).inserted else {
                throw LibvirtError(code: .operationFailed, message: "volume '\(name)' exists already", operation: "createVolume")
            }
        }
        return "/fake/\(hostName)/volumes/\(name)"
    }

    func deleteVolumes(named names: [String]) async throws {
        try check(.deleteVolumes)
        state.withLock { s in for name in names { s.volumes.remove(name) } }
    }

    func volumeNames() async throws -> [String] { volumeNamesNow }

    let completions = Mutex<[AsyncStream<JobCompleted>.Continuation]>([])

    func jobCompletions(ofDomain name: String) async throws -> (events: AsyncStream<JobCompleted>, registration: any Sendable) {
        let (events, continuation) = AsyncStream.makeStream(of: JobCompleted.self)
        completions.withLock { $0.append(continuation) }
        return (events, 0)
    }

    func kvmBootProblem(kernel: String, workDirectory: String) -> String? { "in-memory hypervisor: no KVM" }
}

/// A domain of an ``InMemoryHypervisor`` (looked up by name on every call, like a handle).
struct InMemoryDomain: HypervisorDomain {
    let hypervisor: InMemoryHypervisor
    let name: String

    var uuid: String { hypervisor.state.withLock { $0.domains[name]?.definition.uuid ?? "" } }

    private func update(_ step: InMemoryHypervisor.Step, _ change: (inout InMemoryHypervisor.Domain?) throws -> Void) throws {
        try hypervisor.check(step)
        try hypervisor.state.withLock { s in
            var domain = s.domains[name]
            guard domain != nil else {
                throw LibvirtError(code: .noDomain, message: "no domain '\(name)'", operation: "\(step)")
            }
            try change(&domain)
            s.domains[name] = domain
        }
    }

    func start() async throws { try update(.startDomain) { $0?.running = true } }
    func destroy() async throws { try update(.destroy) { $0?.running = false } }
    func undefine() async throws { try update(.undefine) { $0 = nil } }

    func state() async throws -> DomainState {
        guard let domain = hypervisor.state.withLock({ $0.domains[name] }) else {
            throw LibvirtError(code: .noDomain, message: "no domain '\(name)'", operation: "state")
        }
        return DomainState(kind: domain.running ? .running : .shutoff)
    }

    func isActive() async -> Bool { hypervisor.state.withLock { $0.domains[name]?.running ?? false } }

    func xml(migratable: Bool) async throws -> String {
        guard let domain = hypervisor.state.withLock({ $0.domains[name] }) else {
            throw LibvirtError(code: .noDomain, message: "no domain '\(name)'", operation: "xml")
        }
        return domain.definition.xml
    }

    func cvmMetadata() async -> CVMMetadata? { hypervisor.state.withLock { $0.domains[name]?.definition.metadata.cvm } }

    func openAgentChannel(cvmID: String, secret: [UInt8], force: Bool) async throws -> any AgentLink {
        try hypervisor.check(.openChannel)
        let (running, agent) = hypervisor.state.withLock { ($0.domains[name]?.running ?? false, $0.agent) }
        guard running else { throw LibvirtError(code: .operationInvalid, message: "domain is not running", operation: "openChannel") }
        return InMemoryAgentLink(domain: self, cvmID: cvmID, agent: agent)
    }

    func setMaxDowntime(milliseconds: UInt64) async throws { try hypervisor.check(.setMaxDowntime) }

    func migrate(to destination: any Hypervisor, options: MigrationOptions) async throws {
        try hypervisor.check(.migrate)
        guard let target = destination as? InMemoryHypervisor else { throw InjectedFailure(step: .migrate) }
        if hypervisor.state.withLock({ $0.migrationBlocks }) {
            while !hypervisor.state.withLock({ $0.migrationAborted }) { try? await Task.sleep(for: .milliseconds(5)) }
            throw LibvirtError(code: .operationAborted, message: "migration job: canceled by client", operation: "virDomainMigrate3")
        }
        // PERSIST_DEST | UNDEFINE_SOURCE: the domain now runs there and is gone here.
        var definition = try DomainDefinition(xml: options.destinationXML)
        definition.name = name
        hypervisor.state.withLock { $0.domains[name] = nil }
        target.state.withLock { $0.domains[name] = InMemoryHypervisor.Domain(definition: definition, running: true) }
        hypervisor.completions.withLock { list in
            for c in list { c.yield(JobCompleted(domainName: name, downtimeMs: 12)) }
        }
    }

    func jobProgress() async throws -> JobProgress { JobProgress(active: true, dataTotal: 100, dataRemaining: 50) }

    func abortJob() async throws { hypervisor.state.withLock { $0.migrationAborted = true } }
}

/// The fake agent at the other end of a channel.
final class InMemoryAgentLink: AgentLink, @unchecked Sendable {
    let events: AsyncStream<AgentChannel.Event>
    private let continuation: AsyncStream<AgentChannel.Event>.Continuation
    private let domain: InMemoryDomain
    private let cvmID: String
    private let seq = Mutex<UInt64>(0)

    init(domain: InMemoryDomain, cvmID: String, agent: InMemoryHypervisor.Agent) {
        (events, continuation) = AsyncStream.makeStream(of: AgentChannel.Event.self)
        self.domain = domain
        self.cvmID = cvmID
        switch agent {
        case .healthy:
            continuation.yield(.heartbeat(Self.heartbeat(id: cvmID, seq: 1), newBoot: true))
        case .silent:
            break
        case .crashes:
            continuation.yield(.closed("channel closed by the host side"))
            continuation.finish()
        }
    }

    static func heartbeat(id: String, seq: UInt64, role: AgentConfig.Role = .single) -> Heartbeat {
        Heartbeat(id: id, boot: 0xb007, seq: seq, uptimeMs: 1000, status: .ok, task: "idle", cpuPercent: 1,
                  memUsedKiB: 10_000, memTotalKiB: 100_000, diskReadBytes: 0, diskWriteBytes: 0,
                  netRxBytes: 0, netTxBytes: 0, connections: 0, role: role)
    }

    func send(_ op: Command.Operation, role: AgentConfig.Role?, peers: [String], probe: ProbeTarget?, config: String?) async throws -> UInt64 {
        let n = seq.withLock { $0 += 1; return $0 }
        switch op {
        case .stop:
            domain.hypervisor.state.withLock { $0.domains[domain.name]?.running = false }
        default:
            // A probe of port 22 is dropped, any other is answered (the real agent's probe is
            // CVMNetworkTests' subject).
            let result: ProbeResult? = probe.map { $0.port == 22 ? .timeout : .open }
            continuation.yield(.acknowledged(Acknowledgement(id: cvmID, boot: 0xb007, seq: n, op: op, result: result)))
            if op == .serve, let config {
                // A configuration naming "broken" never serves (the data plane stays silent about
                // it); one naming "refused" is refused, with a reason a hostile guest might send.
                var hb = Self.heartbeat(id: cvmID, seq: n + 1)
                let refused = config.contains("refused")
                hb.service = ServiceReport(serving: !config.contains("broken") && !refused, active: 1, opened: 2, bytes: 3, spills: 0,
                                           config: refused ? 0 : ServiceReport.configDigest(of: config),
                                           rejected: refused ? ServiceReport.configDigest(of: config) : 0,
                                           rejectReason: "bad\u{1B}[31m monitor\n" + String(repeating: "x", count: 5000))
                continuation.yield(.heartbeat(hb, newBoot: false))
            }
            if let role { continuation.yield(.heartbeat(Self.heartbeat(id: cvmID, seq: n + 1, role: role), newBoot: false)) }
        }
        return n
    }

    func close() {
        continuation.yield(.closed("closed by the orchestrator"))
        continuation.finish()
    }
}

/// The hosts' in-memory hypervisors, made on first use.
final class InMemoryHypervisors: HypervisorProvider {
    let hosts = Mutex<[String: InMemoryHypervisor]>([:])
    /// Hosts that cannot be reached (the provider throws for them).
    let unreachable = Mutex<Set<String>>([])

    func hypervisor(for host: HostRecord) async throws -> any Hypervisor {
        if unreachable.withLock({ $0.contains(host.name) }) {
            throw OrchestratorError.hostUnreachable(host: host.name, reason: "in-memory host marked unreachable")
        }
        return self[host.name]
    }

    subscript(name: String) -> InMemoryHypervisor {
        hosts.withLock { hosts in
            if let existing = hosts[name] { return existing }
            let made = InMemoryHypervisor(hostName: name)
            hosts[name] = made
            return made
        }
    }
}
