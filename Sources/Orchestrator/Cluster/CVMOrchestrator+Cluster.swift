import Libvirt
import CVMProtocol
import Foundation

/// What `cvmctl cluster create` asks for.
public struct ClusterRequest: Sendable, Equatable {
    public var name: String
    public var image: String
    public var task: String?
    public var size: Int
    /// The hosts the members spread over (at least one).
    public var hosts: [String]
    public var timeoutSeconds: Double?

    public init(name: String, image: String, task: String? = nil, size: Int,
                hosts: [String] = [CVMOrchestrator.localHostName], timeoutSeconds: Double? = nil) {
        self.name = name
        self.image = image
        self.task = task
        self.size = size
        self.hosts = hosts
        self.timeoutSeconds = timeoutSeconds
    }
}

/// What a heal did: the servant promoted (if the master was lost), the lost members replaced,
/// the agents told their role and peers (and those that could not be reached).
public struct ClusterHealResult: Sendable, Codable, Equatable {
    public var cluster: String
    public var promoted: String?
    public var replaced: [Replacement]
    public var added: [String]
    public var configured: [String]
    public var unreachable: [String]

    public struct Replacement: Sendable, Codable, Equatable {
        public var lost: String
        public var replacement: String
        public var host: String
    }

    public var changedAnything: Bool { promoted != nil || !replaced.isEmpty || !added.isEmpty || !configured.isEmpty }
}

extension CVMOrchestrator {
    public static let clusterSizes = 1...32

    /// Deploys `size` members of one task — the first the master, the others servants, each
    /// told every member — spread over the given hosts (the host with the fewest members
    /// first). Nothing is left behind when any member fails to deploy: the members already
    /// running are decommissioned and the cluster is forgotten.
    public func createCluster(_ request: ClusterRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterReport {
        // Members are NAME-<ordinal>; the longest ordinal must still make a valid CVM name.
        guard Self.isValidName(request.name), request.name.count <= 36 else {
            throw OrchestratorError.invalidArgument("invalid cluster name '\(request.name)': use 1-36 characters a-z, 0-9 and '-', starting with a letter")
        }
        guard Self.clusterSizes.contains(request.size) else {
            throw OrchestratorError.invalidArgument("cluster size must be within \(Self.clusterSizes.lowerBound)-\(Self.clusterSizes.upperBound), not \(request.size)")
        }
        guard !request.hosts.isEmpty else { throw OrchestratorError.invalidArgument("a cluster needs at least one host") }
        for hostName in request.hosts { _ = try host(named: hostName) }
        let image = try catalog.verified(request.image)
        let task = request.task ?? image.manifest.tasks.first ?? "idle"
        guard image.manifest.tasks.contains(task) else {
            throw OrchestratorError.invalidArgument("image '\(image.manifest.name)' cannot run task '\(task)' (it runs: \(image.manifest.tasks.joined(separator: ", ")))")
        }
        let names = (1...request.size).map { "\(request.name)-\($0)" }
        for name in names where try await store.cvm(named: name) != nil {
            throw OrchestratorError.nameTaken(name)
        }
        try await store.insert(ClusterRecord(name: request.name, image: image.manifest.name, task: task, size: request.size,
                                       hosts: request.hosts.joined(separator: ","), nextOrdinal: request.size + 1, createdAt: Date(),
                                       ownerPid: getpid()))
        defer { try? store.releaseCluster(named: request.name, pid: getpid()) }
        journal("cluster.create", "cluster \(request.name): \(request.size) × \(image.manifest.name) (task \(task)) over \(request.hosts.joined(separator: ", "))")

        var deployed: [String] = []
        var perHost: [String: Int] = [:]
        do {
            for (index, name) in names.enumerated() {
                let host = ClusterSpread.host(among: request.hosts, holding: perHost)
                perHost[host, default: 0] += 1
                progress("deploying \(name) (\(index == 0 ? "master" : "servant")) on \(host)")
                _ = try await deploy(DeployRequest(
                    image: request.image, name: name, host: host, task: task,
                    role: index == 0 ? "master" : "servant", cluster: request.name,
                    peers: names.filter { $0 != name }, timeoutSeconds: request.timeoutSeconds))
                deployed.append(name)
                try Task.checkCancellation()
            }
        } catch {
            progress("rolling back cluster \(request.name)")
            // Also when cancelled (Ctrl-C): the rollback itself is not.
            let undo = deployed
            try? await withoutCancellation { [self] in
                for name in undo.reversed() { _ = try? await decommission(name: name) }
                try await store.deleteCluster(named: request.name)
            }
            journal("cluster.rollback", "cluster \(request.name) not created: \(error)")
            throw error
        }
        return try clusterReport(name: request.name)
    }

    /// The cluster as the store knows it (members, their roles, states and hosts).
    /// Task clusters (a policy task with `clusterSize > 1`) have no cluster record: their
    /// members name them, and the elastic planner sizes them.
    public func clusterReport(name: String) throws -> ClusterReport {
        if let cluster = try store.cluster(named: name) {
            return ClusterReport(cluster: cluster, members: try store.members(ofCluster: name))
        }
        let members = try store.members(ofCluster: name)
        guard !members.isEmpty else { throw OrchestratorError.unknownCluster(name) }
        return ClusterReport(taskCluster: name, members: members)
    }

    public func clusterReports() throws -> [ClusterReport] {
        let records = try store.clusters()
        var reports = try records.map { ClusterReport(cluster: $0, members: try store.members(ofCluster: $0.name)) }
        let named = Set(records.map(\.name))
        let taskClusters = Set(try store.cvms().compactMap(\.cluster)).subtracting(named)
        for name in taskClusters.sorted() {
            reports.append(ClusterReport(taskCluster: name, members: try store.members(ofCluster: name)))
        }
        return reports.sorted { $0.name < $1.name }
    }

    /// Delivers a `configure` (the member's role, these peers) to one member's agent; true
    /// when it was delivered. The heartbeat monitor sends on the channel it already holds.
    public typealias AgentConfigurer = @Sendable (CVMRecord, [String]) async -> Bool

    /// When no running member is the master, promotes the running servant that heartbeated
    /// last and tells every running member its role and peers. What the heartbeat monitor
    /// runs after each sweep; `healCluster` does it too. Returns the promoted member.
    @discardableResult
    public func promoteIfMasterLost(cluster name: String, configurer: AgentConfigurer? = nil) async throws -> String? {
        // Check and change in one transaction: the monitor and a heal may both try at once.
        guard let chosen = try await store.promoteServant(inCluster: name) else { return nil }
        journal("cluster.promote", cvm: chosen.name, host: chosen.host, "cluster \(name): \(chosen.name) promoted to master (no running master)")
        _ = await configureMembers(cluster: name, configurer: configurer)
        return chosen.name
    }

    /// Brings a cluster back to its size with one running master: promotes a servant if the
    /// master is lost, replaces failed members (decommissioned, then a new member deployed on
    /// the allowed host holding the fewest), adds missing ones, and tells every running agent
    /// its role and peers.
    /// - Parameter configurer: how agents get their `configure` (default: over a channel taken
    ///   over for the purpose; a process running the heartbeat monitor passes its `configurer`).
    public func healCluster(name: String, configurer: AgentConfigurer? = nil,
                            progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterHealResult {
        guard let cluster = try await store.cluster(named: name) else { throw try unknownOrPolicyCluster(name) }
        try claim(cluster: name)
        defer { try? store.releaseCluster(named: name, pid: getpid()) }
        var result = ClusterHealResult(cluster: name, promoted: nil, replaced: [], added: [], configured: [], unreachable: [])
        result.promoted = try await promoteIfMasterLost(cluster: name, configurer: configurer)
        if let promoted = result.promoted { progress("promoted \(promoted) to master") }

        var members = try await store.members(ofCluster: name)
        let lost = members.filter { $0.state == .failed }
        var perHost: [String: Int] = [:]
        for member in members where member.state != .failed { perHost[member.host, default: 0] += 1 }
        var changed = result.promoted != nil

        func deployMember(replacing lostName: String?) async throws -> (name: String, host: String) {
            guard let ordinal = try await store.takeOrdinal(cluster: name) else { throw OrchestratorError.unknownCluster(name) }
            let newName = "\(name)-\(ordinal)"
            let host = ClusterSpread.host(among: cluster.hostList, holding: perHost)
            perHost[host, default: 0] += 1
            let peers = (try await store.members(ofCluster: name)).filter { $0.state != .failed && $0.name != lostName }.map(\.name)
            progress("deploying \(newName) (servant) on \(host)\(lostName.map { " to replace \($0)" } ?? "")")
            _ = try await deploy(DeployRequest(image: cluster.image, name: newName, host: host, task: cluster.task,
                                               role: "servant", cluster: name, peers: peers))
            return (newName, host)
        }

        for member in lost {
            progress("decommissioning lost member \(member.name)")
            _ = try await decommission(name: member.name)
            let replacement = try await deployMember(replacing: member.name)
            result.replaced.append(.init(lost: member.name, replacement: replacement.name, host: replacement.host))
            journal("cluster.replace", cvm: replacement.name, host: replacement.host, "cluster \(name): \(replacement.name) replaces lost member \(member.name)")
            changed = true
        }
        members = try await store.members(ofCluster: name)
        let missing = cluster.size - members.count
        if missing > 0 {
            for _ in 0..<missing {
                let added = try await deployMember(replacing: nil)
                result.added.append(added.name)
                journal("cluster.add", cvm: added.name, host: added.host, "cluster \(name): \(added.name) added (below size \(cluster.size))")
            }
            changed = true
        }
        // A promotion may have been impossible before (no running servant): try again now.
        if result.promoted == nil, let promoted = try await promoteIfMasterLost(cluster: name, configurer: configurer) {
            result.promoted = promoted
            changed = true
        }
        let outcome = await configureMembers(cluster: name, all: changed, configurer: configurer)
        result.configured = outcome.configured
        result.unreachable = outcome.unreachable
        return result
    }

    /// Decommissions every member, then forgets the cluster. Repeating it is safe.
    public func deleteCluster(name: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> [DecommissionResult] {
        guard try await store.cluster(named: name) != nil else { throw try unknownOrPolicyCluster(name) }
        try claim(cluster: name)
        var results: [DecommissionResult] = []
        for member in try await store.members(ofCluster: name) {
            progress("decommissioning \(member.name)")
            results.append(try await decommission(name: member.name))
        }
        try await store.deleteCluster(named: name)
        journal("cluster.delete", "cluster \(name) deleted (\(results.count) members decommissioned)")
        return results
    }

    /// The error for a cluster `heal`/`delete` cannot act on: unknown, or a policy task's.
    private func unknownOrPolicyCluster(_ name: String) throws -> OrchestratorError {
        try store.members(ofCluster: name).isEmpty ? .unknownCluster(name)
            : .invalidArgument("cluster '\(name)' belongs to policy task '\(name)': the elastic planner sizes and replaces its members (change the task's rule in the policy)")
    }

    /// Owns the cluster for this process (one creator, healer or deleter at a time).
    private func claim(cluster name: String) throws {
        if let owner = try store.claimCluster(named: name, pid: getpid(), isAlive: { kill($0, 0) == 0 }) {
            throw OrchestratorError.clusterBusy(name: name, pid: owner)
        }
    }

    /// Whether a live process other than this one is changing the cluster.
    public func clusterIsBusy(_ cluster: ClusterRecord) -> Bool {
        guard let owner = cluster.ownerPid, owner != getpid() else { return false }
        return kill(owner, 0) == 0
    }

    /// Sends `configure` (role, peers) to the running members whose agent does not hold its
    /// role yet — or to all of them when `all` (membership changed) — and waits for each `ACK`.
    func configureMembers(cluster name: String, all: Bool = true, configurer: AgentConfigurer? = nil) async -> (configured: [String], unreachable: [String]) {
        guard let members = try? await store.members(ofCluster: name) else { return ([], []) }
        let running = members.filter { $0.state == .running }
        var configured: [String] = [], unreachable: [String] = []
        for member in running where all || member.agentRole != member.role {
            let peers = running.map(\.name).filter { $0 != member.name }
            let delivered = if let configurer { await configurer(member, peers) } else { await configureAgent(member, peers: peers) }
            if delivered {
                configured.append(member.name)
            } else {
                unreachable.append(member.name)
            }
        }
        if !unreachable.isEmpty {
            journal("cluster.configure", "cluster \(name): not reached: \(unreachable.joined(separator: ", ")) (the next heal retries)")
        }
        return (configured, unreachable)
    }

    /// Tells one agent its role and peers over its channel (taken over from the monitor,
    /// which reopens it) and waits up to 5 s for the acknowledgement. Heartbeats read
    /// meanwhile are recorded, so the member does not look silent to the monitor.
    public func configureAgent(_ member: CVMRecord, peers: [String]) async -> Bool {
        guard let role = AgentConfig.Role(rawValue: member.role), let secret = Hex.decode(member.secret),
              let host = try? await store.host(named: member.host) else { return false }
        guard let channel = try? await LibvirtExecutor.run({ () -> AgentChannel? in
            guard let domain = try self.connection(to: host).lookupDomain(name: member.domainName), domain.isActive else { return nil }
            return try AgentChannel(domain: domain, cvmID: member.id, secret: secret, force: true)
        }) else { return false }
        defer { channel.close() }
        guard let seq = try? channel.send(.configure, role: role, peers: peers) else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in channel.events {
                    if case .acknowledged(let ack) = event, ack.seq == seq { return true }
                    if case .heartbeat(let hb, _) = event {
                        _ = try? await self.store.update(cvmID: member.id) { $0.apply(hb, at: Date()) }
                    }
                }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5))
                return false
            }
            let acknowledged = await group.next() ?? false
            group.cancelAll()
            if acknowledged { _ = try? await self.store.update(cvmID: member.id) { $0.agentRole = role.rawValue } }
            return acknowledged
        }
    }
}

/// Where a new cluster member goes: the allowed host holding the fewest members of the
/// cluster; ties go to the host listed first.
public enum ClusterSpread {
    public static func host(among hosts: [String], holding: [String: Int]) -> String {
        precondition(!hosts.isEmpty, "a cluster needs at least one host")
        var best = hosts[0]
        for host in hosts.dropFirst() where holding[host, default: 0] < holding[best, default: 0] { best = host }
        return best
    }
}

/// A cluster and its members, for `cvmctl cluster status`.
public struct ClusterReport: Sendable, Codable, Equatable {
    public var name: String
    public var image: String
    public var task: String
    public var size: Int
    public var hosts: [String]
    /// `cluster` (made by `cvmctl cluster create`, healed by heal) or `policy` (a policy
    /// task's CVMs, sized and replaced by the elastic planner).
    public var managedBy: String
    public var master: String?
    /// Running members / size; a cluster is healthy with all members running and one master.
    public var running: Int
    public var healthy: Bool
    public var members: [Member]

    public struct Member: Sendable, Codable, Equatable {
        public var name: String
        public var role: String
        /// The role the agent reported last (differs from `role` until it was told).
        public var agentRole: String?
        public var host: String
        public var state: String
        public var lastHeartbeatAgeSeconds: Double?
    }

    init(cluster: ClusterRecord, members: [CVMRecord], now: Date = Date()) {
        name = cluster.name
        image = cluster.image
        task = cluster.task
        size = cluster.size
        hosts = cluster.hostList
        managedBy = "cluster"
        master = members.first { $0.role == "master" && $0.state == .running }?.name
        running = members.filter { $0.state == .running }.count
        healthy = running == cluster.size && master != nil && members.count == cluster.size
        self.members = Self.members(members, now: now)
    }

    /// A policy task's cluster: its size is what it has (the planner decides how many).
    init(taskCluster name: String, members: [CVMRecord], now: Date = Date()) {
        self.name = name
        image = members.first?.image ?? "-"
        task = members.first?.task ?? name
        size = members.count
        hosts = Array(Set(members.map(\.host))).sorted()
        managedBy = "policy"
        master = members.first { $0.role == "master" && $0.state == .running }?.name
        running = members.filter { $0.state == .running }.count
        healthy = running == members.count && master != nil
        self.members = Self.members(members, now: now)
    }

    private static func members(_ records: [CVMRecord], now: Date) -> [Member] {
        records.map {
            Member(name: $0.name, role: $0.role, agentRole: $0.agentRole, host: $0.host, state: $0.state.rawValue,
                   lastHeartbeatAgeSeconds: $0.lastHeartbeatAt.map { now.timeIntervalSince($0) })
        }
    }
}
