import Libvirt
import CVMProtocol
import Foundation

/// Clusters of CVMs of one task: one master, the rest servants, each told every member;
/// created, promoted, healed and deleted through the ``CVMDeployer``.
package struct ClusterManager: Sendable {
    let store: Store
    let catalog: ImageCatalog
    let hypervisors: any HypervisorProvider
    let deployer: CVMDeployer
    let journal: Journal

    package init(store: Store, catalog: ImageCatalog, hypervisors: any HypervisorProvider, deployer: CVMDeployer, journal: Journal) {
        self.store = store
        self.catalog = catalog
        self.hypervisors = hypervisors
        self.deployer = deployer
        self.journal = journal
    }

    public static let clusterSizes = 1...32

    /// Deploys `size` members of one task — the first the master, the others servants, each
    /// told every member — spread over the given hosts (the host with the fewest members
    /// first). Nothing is left behind when any member fails to deploy: the members already
    /// running are decommissioned and the cluster is forgotten.
    package func createCluster(_ request: ClusterRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterReport {
        // Members are NAME-<ordinal>; the longest ordinal must still make a valid CVM name.
        guard CVMNaming.isValid(request.name), request.name.count <= 36 else {
            throw OrchestratorError.invalidArgument("invalid cluster name '\(request.name)': use 1-36 characters a-z, 0-9 and '-', starting with a letter")
        }
        guard Self.clusterSizes.contains(request.size) else {
            throw OrchestratorError.invalidArgument("cluster size must be within \(Self.clusterSizes.lowerBound)-\(Self.clusterSizes.upperBound), not \(request.size)")
        }
        guard !request.hosts.isEmpty else { throw OrchestratorError.invalidArgument("a cluster needs at least one host") }
        for hostName in request.hosts { _ = try await store.requireHost(named: hostName) }
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
                                       hosts: request.hosts, nextOrdinal: request.size + 1, createdAt: Date(),
                                       ownerPid: getpid(), ownerStart: ProcessLiveness.currentStart))
        defer { try? store.releaseCluster(named: request.name, pid: getpid()) }
        await journal("cluster.create", "cluster \(request.name): \(request.size) × \(image.manifest.name) (task \(task)) over \(request.hosts.joined(separator: ", "))")

        var deployed: [String] = []
        var perHost: [String: Int] = [:]
        do {
            for (index, name) in names.enumerated() {
                let host = ClusterSpread.host(among: request.hosts, holding: perHost)
                perHost[host, default: 0] += 1
                progress("deploying \(name) (\(index == 0 ? "master" : "servant")) on \(host)")
                _ = try await deployer.deploy(DeployRequest(
                    image: request.image, name: name, host: host, task: task,
                    role: index == 0 ? .master : .servant, cluster: request.name,
                    peers: names.filter { $0 != name }, timeout: request.timeout))
                deployed.append(name)
                try Task.checkCancellation()
            }
        } catch {
            progress("rolling back cluster \(request.name)")
            // Also when cancelled (Ctrl-C): the rollback itself is not.
            let undo = deployed
            try? await withoutCancellation { [self] in
                for name in undo.reversed() { _ = try? await deployer.decommission(name: name) }
                try await store.deleteCluster(named: request.name)
            }
            await journal("cluster.rollback", "cluster \(request.name) not created: \(error)")
            throw error
        }
        return try clusterReport(name: request.name)
    }

    /// The cluster as the store knows it (members, their roles, states and hosts).
    /// Task clusters (a policy task with `clusterSize > 1`) have no cluster record: their
    /// members name them, and the elastic planner sizes them.
    package func clusterReport(name: String) throws -> ClusterReport {
        if let cluster = try store.cluster(named: name) {
            return ClusterReport(cluster: cluster, members: try store.members(ofCluster: name))
        }
        let members = try store.members(ofCluster: name)
        guard !members.isEmpty else { throw OrchestratorError.unknownCluster(name) }
        return ClusterReport(taskCluster: name, members: members)
    }

    package func clusterReports() throws -> [ClusterReport] {
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
    package typealias AgentConfigurer = CVMOrchestrator.AgentConfigurer

    /// When no running member is the master, promotes the running servant that heartbeated
    /// last and tells every running member its role and peers. What the heartbeat monitor
    /// runs after each sweep; `healCluster` does it too. Returns the promoted member.
    @discardableResult
    package func promoteIfMasterLost(cluster name: String, configurer: AgentConfigurer? = nil) async throws -> String? {
        // Check and change in one transaction: the monitor and a heal may both try at once.
        guard let chosen = try await store.promoteServant(inCluster: name) else { return nil }
        await journal("cluster.promote", cvm: chosen.name, host: chosen.host, "cluster \(name): \(chosen.name) promoted to master (no running master)")
        _ = await configureMembers(cluster: name, configurer: configurer)
        return chosen.name
    }

    /// Brings a cluster back to its size with one running master: promotes a servant if the
    /// master is lost, replaces failed members (decommissioned, then a new member deployed on
    /// the allowed host holding the fewest), adds missing ones, and tells every running agent
    /// its role and peers.
    /// - Parameter configurer: how agents get their `configure` (default: over a channel taken
    ///   over for the purpose; a process running the heartbeat monitor passes its `configurer`).
    package func healCluster(name: String, configurer: AgentConfigurer? = nil,
                            progress: @Sendable (String) -> Void = { _ in }) async throws -> ClusterHealResult {
        guard let cluster = try await store.cluster(named: name) else { throw try unknownOrPolicyCluster(name) }
        try claim(cluster: name)
        defer { try? store.releaseCluster(named: name, pid: getpid()) }
        var result = ClusterHealResult(cluster: name, promoted: nil, replaced: [], added: [], configured: [], unreachable: [])
        result.promoted = try await promoteIfMasterLost(cluster: name, configurer: configurer)
        if let promoted = result.promoted { progress("promoted \(promoted) to master") }

        var members = try await store.members(ofCluster: name)
        // Lost: failed, or left `deploying`/`stopping` by a create, heal or decommission that
        // was killed (its owner is gone): such a member counts as missing, not as whole.
        let lost = members.filter { $0.state == .failed || Self.isAbandoned($0) }
        let lostNames = Set(lost.map(\.name))
        var perHost: [String: Int] = [:]
        for member in members where !lostNames.contains(member.name) { perHost[member.host, default: 0] += 1 }
        var changed = result.promoted != nil
        // Replacements go to the allowed hosts that answer (as far as the monitor knows).
        let links = (try? await store.hostLinks()) ?? [:]
        let answering = cluster.hostList.filter { links[$0]?.isUnreachable != true }
        let candidates = answering.isEmpty ? cluster.hostList : answering

        func deployMember(replacing lostName: String?) async throws -> (name: String, host: String) {
            guard let ordinal = try await store.takeOrdinal(cluster: name) else { throw OrchestratorError.unknownCluster(name) }
            let newName = "\(name)-\(ordinal)"
            let host = ClusterSpread.host(among: candidates, holding: perHost)
            perHost[host, default: 0] += 1
            let peers = (try await store.members(ofCluster: name))
                .filter { $0.state != .failed && !Self.isAbandoned($0) && $0.name != lostName }.map(\.name)
            progress("deploying \(newName) (servant) on \(host)\(lostName.map { " to replace \($0)" } ?? "")")
            _ = try await deployer.deploy(DeployRequest(image: cluster.image, name: newName, host: host, task: cluster.task,
                                               role: .servant, cluster: name, peers: peers))
            return (newName, host)
        }

        for member in lost {
            progress(member.state == .failed ? "decommissioning lost member \(member.name)"
                     : "removing \(member.name), left \(member.state.rawValue) by a process that is gone")
            // On a host that does not answer, it is fenced (destroyed when the host is back)
            // and replaced now.
            if try await deployer.decommission(name: member.name).outcome == .deferred {
                progress("\(member.name)'s host \(member.host) does not answer: fenced when it is back")
            }
            let replacement = try await deployMember(replacing: member.name)
            result.replaced.append(.init(lost: member.name, replacement: replacement.name, host: replacement.host))
            await journal("cluster.replace", cvm: replacement.name, host: replacement.host, "cluster \(name): \(replacement.name) replaces lost member \(member.name)")
            changed = true
        }
        members = try await store.members(ofCluster: name)
        let missing = cluster.size - members.count
        if missing > 0 {
            for _ in 0..<missing {
                let added = try await deployMember(replacing: nil)
                result.added.append(added.name)
                await journal("cluster.add", cvm: added.name, host: added.host, "cluster \(name): \(added.name) added (below size \(cluster.size))")
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

    /// A member a killed command left half-done: `deploying` or `stopping`, and no live
    /// process works on it.
    static func isAbandoned(_ member: CVMRecord) -> Bool {
        (member.state == .deploying || member.state == .stopping) && !ActiveOperations.isInProgress(member)
    }

    /// Decommissions every member, then forgets the cluster. Repeating it is safe.
    package func deleteCluster(name: String, progress: @Sendable (String) -> Void = { _ in }) async throws -> [DecommissionResult] {
        guard try await store.cluster(named: name) != nil else { throw try unknownOrPolicyCluster(name) }
        try claim(cluster: name)
        var results: [DecommissionResult] = []
        for member in try await store.members(ofCluster: name) {
            progress("decommissioning \(member.name)")
            results.append(try await deployer.decommission(name: member.name))
        }
        try await store.deleteCluster(named: name)
        await journal("cluster.delete", "cluster \(name) deleted (\(results.count) members decommissioned)")
        return results
    }

    /// The error for a cluster `heal`/`delete` cannot act on: unknown, or a policy task's.
    private func unknownOrPolicyCluster(_ name: String) throws -> OrchestratorError {
        try store.members(ofCluster: name).isEmpty ? .unknownCluster(name)
            : .invalidArgument("cluster '\(name)' belongs to policy task '\(name)': the elastic planner sizes and replaces its members (change the task's rule in the policy)")
    }

    /// Owns the cluster for this process (one creator, healer or deleter at a time).
    private func claim(cluster name: String) throws {
        if let owner = try store.claimCluster(named: name, pid: getpid(), isAlive: { ProcessLiveness.isAlive($0, start: $1) }) {
            throw OrchestratorError.clusterBusy(name: name, pid: owner)
        }
    }

    /// Whether a live process other than this one is changing the cluster.
    package func clusterIsBusy(_ cluster: ClusterRecord) -> Bool {
        ProcessLiveness.isOtherLiveProcess(cluster.ownerPid, start: cluster.ownerStart)
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
            await journal("cluster.configure", "cluster \(name): not reached: \(unreachable.joined(separator: ", ")) (the next heal retries)")
        }
        return (configured, unreachable)
    }

    /// Tells one agent its role and peers over its channel and waits up to 5 s for the
    /// acknowledgement (see ``AgentCommand``).
    package func configureAgent(_ member: CVMRecord, peers: [String]) async -> Bool {
        let role = member.role
        let sent = await AgentCommand(store: store, hypervisors: hypervisors).send(.configure, to: member, role: role, peers: peers)
        guard case .success = sent else { return false }
        _ = try? await store.update(cvmID: member.id) { $0.agentRole = role }
        return true
    }
}

