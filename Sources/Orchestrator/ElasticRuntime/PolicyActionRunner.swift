import CVMProtocol
import Planning
import Foundation
import Synchronization

/// A planned action with the CVM it concerns named: for a deploy, the new CVM's name is
/// chosen before anything starts, so the explanation, the journal and the pending overlay
/// all refer to it.
public struct PreparedAction: Sendable, Hashable {
    public var action: PlannedAction
    public var cvm: String
    /// For a deploy of a task whose rule has `clusterSize > 1`: the cluster its CVMs form
    /// (named after the task; one master, the rest servants, each told every member).
    public var cluster: String? = nil

    /// How the action shows in the inventory until the store reflects it.
    public var pending: PendingAction {
        switch action.kind {
        case let .deploy(task, _, host, vcpus, memoryMiB):
            .deploy(cvm: cvm, task: task, host: host, vcpus: vcpus, memoryMiB: memoryMiB)
        case let .migrate(_, _, to):
            .migrate(cvm: cvm, to: to)
        case .decommission:
            .decommission(cvm: cvm)
        }
    }
}

/// What carrying out one action came to.
public struct ActionOutcome: Sendable, Hashable {
    public var prepared: PreparedAction
    /// nil when it succeeded, else the error in one line.
    public var failure: String?
    /// What happened, in words (`deployed health-monitor-1a2b on local: first heartbeat 4870 ms after start`).
    public var summary: String

    public var succeeded: Bool { failure == nil }
}

/// Carries planned actions out through deploy, migrate and decommission, recording each in
/// the journal with its reason and policy commit, and the placement explanation of every
/// deploy and migration (for `cvmctl explain`).
///
/// Journal kinds are prefixed with `origin` (`elastic` or `apply`): `<origin>.action` when an
/// action starts, `<origin>.done` or `<origin>.failed` when it ends.
public struct PolicyActionRunner: Sendable {
    public let orchestrator: CVMOrchestrator
    public let origin: String
    /// How long a decommission waits for the agent to power the CVM off before destroying it.
    public var decommissionGrace: Duration
    /// How long a decommission waits for a serving CVM's open connections to end.
    public var drainTimeout: Duration
    /// How a task cluster's agents are told their role and peers (nil: over a channel taken
    /// over for the purpose; elastic mode passes its heartbeat monitor's).
    public var configurer: CVMOrchestrator.AgentConfigurer?
    /// Task clusters whose master this runner is deploying right now (deploys run side by
    /// side: only one of them may take the master's role).
    private let mastersUnderWay = MastersUnderWay()

    private final class MastersUnderWay: Sendable {
        let clusters = Mutex<Set<String>>([])
    }

    public init(orchestrator: CVMOrchestrator, origin: String, decommissionGrace: Duration = .seconds(10),
                drainTimeout: Duration = .seconds(30), configurer: CVMOrchestrator.AgentConfigurer? = nil) {
        self.orchestrator = orchestrator
        self.drainTimeout = drainTimeout
        self.origin = origin
        self.decommissionGrace = decommissionGrace
        self.configurer = configurer
    }

    /// Names the CVM of `action`: the one it concerns, or for a deploy a new name
    /// `<task>-<4 hex digits>` that no CVM has and none of `taken` has either. With `policy`,
    /// a deploy for a task whose rule asks for `clusterSize > 1` joins the task's cluster.
    public func prepare(_ action: PlannedAction, taken: Set<String> = [], policy: PolicySet? = nil) throws -> PreparedAction {
        switch action.kind {
        case let .deploy(task, _, _, _, _):
            let existing = Set(try orchestrator.store.cvms().map(\.name)).union(taken)
            var name = Self.newName(task: task)
            while existing.contains(name) { name = Self.newName(task: task) }
            let clustered = (policy?.tasks[task]?.clusterSize ?? 1) > 1
            return PreparedAction(action: action, cvm: name, cluster: clustered ? task : nil)
        case let .migrate(cvm, _, _), let .decommission(cvm, _):
            return PreparedAction(action: action, cvm: cvm)
        }
    }

    /// A valid CVM name for a new CVM of `task`: the task name cut down to the allowed
    /// characters, then a random suffix.
    static func newName(task: String) -> String {
        var base = String(task.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" })
        while base.contains("--") { base = base.replacingOccurrences(of: "--", with: "-") }
        base = String(base.prefix(30)).trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        if base.first.map({ !$0.isLetter }) ?? true { base = "cvm" + (base.isEmpty ? "" : "-" + base) }
        return "\(base)-\(String(UInt16.random(in: 0...UInt16.max), radix: 16).leftPadded(to: 4))"
    }

    /// Carries `prepared` out. Never throws: a failure is journaled and returned.
    public func perform(_ prepared: PreparedAction) async -> ActionOutcome {
        let action = prepared.action
        let commit = action.policyCommit
        let host: String
        switch action.kind {
        case let .deploy(_, _, h, _, _): host = h
        case let .migrate(_, from, _): host = from
        case let .decommission(_, h): host = h
        }
        await orchestrator.journal("\(origin).action", cvm: prepared.cvm, host: host,
                             "\(Self.summary(of: prepared)) [\(action.cause.rawValue)] — \(action.reason)", policyCommit: commit)
        var placement: PlacementRecord?
        do {
            placement = try await recordPlacement(prepared)
            let summary = try await carryOut(prepared)
            await orchestrator.journal("\(origin).done", cvm: prepared.cvm, host: host, summary, policyCommit: commit)
            return ActionOutcome(prepared: prepared, failure: nil, summary: summary)
        } catch {
            // Also when cancelled (the deploy or migration was undone): no explanation of a
            // placement that did not happen.
            if let id = placement?.id {
                let store = orchestrator.store
                try? await withoutCancellation { try await store.deletePlacement(id: id) }
            }
            let line = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            let why = error is CancellationError ? "interrupted; undone" : line
            await orchestrator.journal("\(origin).failed", cvm: prepared.cvm, host: host, "\(Self.summary(of: prepared)) failed: \(why)", policyCommit: commit)
            return ActionOutcome(prepared: prepared, failure: why, summary: "\(Self.summary(of: prepared)) failed: \(why)")
        }
    }

    private func carryOut(_ prepared: PreparedAction) async throws -> String {
        let action = prepared.action
        switch action.kind {
        case let .deploy(task, image, host, vcpus, memoryMiB):
            var role = AgentConfig.Role.single, peers: [String] = []
            if let cluster = prepared.cluster {
                // The first member is the master; later ones are servants (a master lost later
                // is replaced by promoting one of them).
                let members = try await orchestrator.store.members(ofCluster: cluster).filter { $0.state != .failed }
                let takesMaster = mastersUnderWay.clusters.withLock { underWay in
                    guard !members.contains(where: { $0.role == .master }), !underWay.contains(cluster) else { return false }
                    underWay.insert(cluster)
                    return true
                }
                role = takesMaster ? .master : .servant
                peers = members.map(\.name)
            }
            defer {
                if role == .master, let cluster = prepared.cluster { _ = mastersUnderWay.clusters.withLock { $0.remove(cluster) } }
            }
            let result = try await orchestrator.deploy(DeployRequest(
                image: image, name: prepared.cvm, host: host, task: task, role: role, cluster: prepared.cluster, peers: peers,
                vcpus: vcpus, memoryMiB: memoryMiB, policyCommit: action.policyCommit))
            var membership = ""
            if let cluster = prepared.cluster {
                let told = await orchestrator.configureMembers(cluster: cluster, configurer: configurer)
                membership = ", \(role) of cluster \(cluster)\(told.unreachable.isEmpty ? "" : " (members not told yet: \(told.unreachable.joined(separator: ", ")))")"
            }
            return "deployed \(prepared.cvm) (\(task)) on \(host): first heartbeat \(result.bootToHeartbeatMs) ms after start, \(result.totalMs) ms in all\(membership)"
        case let .migrate(_, from, to):
            let result = try await orchestrator.migrate(MigrateRequest(name: prepared.cvm, destination: to))
            // Migrated: the commit is recorded even if this task was cancelled meanwhile.
            let commit = action.policyCommit, store = orchestrator.store, name = prepared.cvm
            try await withoutCancellation {
                if let id = try await store.cvm(named: name)?.id {
                    try await store.update(cvmID: id) { $0.policyCommit = commit }
                }
            }
            let pause = result.pauseMs.map { ", paused \($0) ms" } ?? ""
            return "migrated \(prepared.cvm) from \(from) to \(to) in \(result.totalMs) ms\(pause)"
        case .decommission:
            let cluster = try await orchestrator.store.cvm(named: prepared.cvm)?.cluster
            let result = try await orchestrator.decommission(name: prepared.cvm, grace: decommissionGrace, drain: drainTimeout)
            // Decommissioned: nothing after this makes the action a failure.
            let membership = if let cluster { await membershipAfterLeaving(cluster: cluster) } else { "" }
            let drained = result.drain.map { "; \($0.summary)" } ?? ""
            return "decommissioned \(prepared.cvm) (\(result.outcome.rawValue)) in \(result.totalMs) ms\(drained)\(membership)"
        }
    }

    /// After a member of a task cluster (one without a cluster record) left: the others learn
    /// the new membership, and a servant takes over if the master went. What it did, for the
    /// summary; a failure (a cancellation too) is said there: the monitor promotes as well, and
    /// the next change of the cluster tells the members again.
    private func membershipAfterLeaving(cluster: String) async -> String {
        do {
            guard try await orchestrator.store.cluster(named: cluster) == nil else { return "" }
            if let promoted = try await orchestrator.promoteIfMasterLost(cluster: cluster, configurer: configurer) {
                return ", \(promoted) promoted to master"
            }
            _ = await orchestrator.configureMembers(cluster: cluster, configurer: configurer)
            return ""
        } catch {
            return ", cluster \(cluster) not updated: \(error)"
        }
    }

    /// Deploys and migrations keep how their host was chosen.
    private func recordPlacement(_ prepared: PreparedAction) async throws -> PlacementRecord? {
        let action = prepared.action
        let kind: String, host: String
        switch action.kind {
        case let .deploy(_, _, h, _, _): (kind, host) = ("deploy", h)
        case let .migrate(_, _, to): (kind, host) = ("migrate", to)
        case .decommission: return nil
        }
        let text = action.explanation?.render() ?? "no placement explanation (host \(host) given by the plan)"
        return try await orchestrator.store.record(PlacementRecord(
            cvm: prepared.cvm, task: action.task, action: kind, host: host, policyCommit: action.policyCommit,
            reason: action.reason, explanation: text, origin: origin))
    }

    /// The action with the CVM's name: `deploy health-monitor-1a2b (image cvm-base, 1 vCPU, 128 MiB) on local`.
    public static func summary(of prepared: PreparedAction) -> String {
        let action = prepared.action
        switch action.kind {
        case let .deploy(_, image, host, vcpus, memoryMiB):
            return "deploy \(prepared.cvm) (task \(action.task), image \(image), \(vcpus) vCPU, \(memoryMiB) MiB) on \(host)"
        case .migrate, .decommission:
            return action.summary
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
