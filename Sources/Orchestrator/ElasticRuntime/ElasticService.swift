import Planning
import Libvirt
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Elastic mode: a `Service` that loops measure → anticipate → evaluate → plan → act.
///
/// Every `elastic.intervalSeconds` of the policy in force it follows the policy ref (new valid
/// commits are adopted, invalid ones journaled and ignored), reads TMS task usage from its
/// ``UsageSource``s and CVM usage from the heartbeats in the store, builds the inventory,
/// lets ``ElasticPlanner`` decide (forecasts, hysteresis, min/max, cooldowns, the limit on
/// concurrent actions), and starts the actions it returns — each in its own child task, so
/// the loop keeps measuring while a CVM boots. Actions still running are overlaid on the
/// next inventory (``PendingAction``), so they are neither repeated nor over-counted.
///
/// Recommend-only: the same evaluation, each action journaled as `elastic.recommend`, none
/// carried out. Graceful shutdown (SIGTERM/SIGINT through the service group): no new
/// evaluation starts (one under way plans nothing once its measurements are in), the actions
/// under way finish, then `run()` returns. Cancellation — the service group's
/// `maximumGracefulShutdownDuration` running out — cancels them too: a deploy then rolls back,
/// a migration is aborted, and `run()` returns once they are undone.
///
/// Clusters that are not whole are healed too (a servant promoted, lost members replaced),
/// one heal per cluster at a time, retried no sooner than 30 s after a failure.
///
/// Cooldowns are kept in the store, so a restarted elastic mode honours them.
///
/// Journal kinds: `elastic.started`, `elastic.decision` (a task's verdict or count changed),
/// `elastic.recommend`, `elastic.action` / `elastic.done` / `elastic.failed`,
/// `elastic.heal` / `elastic.healed`,
/// `elastic.measure` (a usage source failed), `elastic.stopped`, and the follower's `policy.*`.
public final class ElasticService: Service, Sendable {
    let orchestrator: CVMOrchestrator
    let configuration: ElasticConfiguration
    let logger: Logger
    private let initialFollower: PolicyFollower
    /// Carries the planned actions out (``PolicyActionRunner``; a fake in tests).
    private let runner: any ElasticActionRunner
    private let pending = Mutex<[String: PendingAction]>([:])
    private let healing = Mutex(ClusterHealing())
    private let wakeUp: WakeUp
    private let hostLoad: HostLoadMonitor
    /// How cluster heals reach the agents: the configurer of the heartbeat monitor running in
    /// this process, if any.
    let configurer: CVMOrchestrator.AgentConfigurer?

    /// `follower` comes from ``PolicyFollower/start(orchestrator:repository:ref:recordsApplied:origin:)``,
    /// so a repository without a valid policy is refused before the service runs.
    /// - Parameter wakeUp: signalled by the heartbeat monitor of this process when it
    ///   confirms a failure: the loop evaluates (and heals) at once instead of at the next
    ///   policy interval.
    public convenience init(orchestrator: CVMOrchestrator, follower: PolicyFollower, configuration: ElasticConfiguration, logger: Logger,
                            configurer: CVMOrchestrator.AgentConfigurer? = nil, wakeUp: WakeUp = WakeUp()) {
        let runner = PolicyActionRunner(orchestrator: orchestrator, origin: "elastic",
                                        decommissionGrace: configuration.decommissionGrace,
                                        drainTimeout: configuration.drainTimeout, configurer: configurer)
        self.init(orchestrator: orchestrator, follower: follower, configuration: configuration, logger: logger,
                  configurer: configurer, runner: runner, wakeUp: wakeUp)
    }

    init(orchestrator: CVMOrchestrator, follower: PolicyFollower, configuration: ElasticConfiguration, logger: Logger,
         configurer: CVMOrchestrator.AgentConfigurer?, runner: any ElasticActionRunner, wakeUp: WakeUp = WakeUp()) {
        self.orchestrator = orchestrator
        self.configurer = configurer
        self.initialFollower = follower
        self.configuration = configuration
        self.logger = logger
        self.runner = runner
        self.wakeUp = wakeUp
        hostLoad = HostLoadMonitor(orchestrator: orchestrator, logger: logger)
    }

    public func run() async throws {
        // Cooldowns survive a restart (not in recommend-only mode, whose pacing is its own).
        let cooldowns = configuration.recommendOnly ? [:] : (try? await orchestrator.store.elasticCooldowns()) ?? [:]
        var loop = ElasticLoop(follower: initialFollower, cooldowns: cooldowns)
        let runner = self.runner
        let sources = configuration.usageSources.map(\.description).joined(separator: ", ")
        await orchestrator.journal(
            "elastic.started",
            "mode \(configuration.mode), following \(initialFollower.ref) in \(initialFollower.repository.directory), TMS usage from \(sources.isEmpty ? "nothing (heartbeats only)" : sources)"
                + (cooldowns.isEmpty ? "" : ", cooldowns carried over for \(cooldowns.keys.sorted().joined(separator: ", "))"),
            policyCommit: loop.follower.inForce.commit)
        logger.info("elastic mode started", metadata: ["cvm.policy": "\(loop.follower.inForce.shortCommit)", "cvm.mode": "\(configuration.mode)"])

        await withDiscardingTaskGroup { group in
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let prepared = await evaluate(&loop, runner: runner)
                for action in prepared {
                    pending.withLock { $0[action.cvm] = action.pending }
                    group.addTask {
                        let outcome = await runner.perform(action)
                        self.pending.withLock { _ = $0.removeValue(forKey: action.cvm) }
                        self.logger.info("elastic action ended", metadata: ["cvm.summary": "\(outcome.summary)"])
                    }
                }
                let commit = loop.follower.inForce.commit
                for (name, why) in await clustersToHeal(policyCommit: commit) {
                    group.addTask { await self.heal(cluster: name, why: why, policyCommit: commit) }
                }
                if configuration.once { break }
                let interval = loop.follower.inForce.policy.elastic.intervalSeconds
                let wakeUp = self.wakeUp
                await cancelWhenGracefulShutdown { await wakeUp.wait(seconds: interval) }
            }
        }
        let how = Task.isCancelled ? "cancelled; actions under way were undone"
            : configuration.once ? "one evaluation done" : "stopped gracefully; actions under way finished"
        await orchestrator.journal("elastic.stopped", how,
                             policyCommit: loop.follower.inForce.commit)
        logger.log(level: Task.isCancelled ? .warning : .info, "elastic mode stopped", metadata: ["cvm.reason": "\(how)"])
    }

    /// The clusters to heal now (marked under way); in recommend-only mode they are only
    /// journaled, once per episode.
    private func clustersToHeal(policyCommit: String) async -> [(name: String, why: String)] {
        // Only clusters made by `cvmctl cluster`: policy task clusters are the planner's (it
        // replaces their failed CVMs itself).
        let store = orchestrator.store
        var reports: [ClusterReport] = []
        guard let clusters = try? await store.clusters() else { return [] }
        for cluster in clusters {
            guard let members = try? await store.members(ofCluster: cluster.name) else { return [] }
            reports.append(ClusterReport(cluster: cluster, members: members))
        }
        let busy = Set(clusters.filter { orchestrator.clusterIsBusy($0) }.map(\.name))
        return healing.withLock { healing in
            healing.whole(reports.filter(\.healthy).map(\.name))
            let due = healing.due(reports, isBusy: { busy.contains($0) }, now: Date())
            if configuration.recommendOnly {
                for (name, why) in due where healing.shouldRecommend(name) {
                    orchestrator.journal("elastic.recommend", "would heal cluster \(name) (\(why))", policyCommit: policyCommit)
                }
                return []
            }
            for (name, _) in due { healing.started(name) }
            return due
        }
    }

    private func heal(cluster name: String, why: String, policyCommit: String) async {
        await orchestrator.journal("elastic.heal", "cluster \(name): \(why)", policyCommit: policyCommit)
        do {
            let result = try await orchestrator.healCluster(name: name, configurer: configurer)
            var done: [String] = []
            if let promoted = result.promoted { done.append("promoted \(promoted)") }
            done += result.replaced.map { "replaced \($0.lost) with \($0.replacement) on \($0.host)" }
            done += result.added.map { "added \($0)" }
            if !result.unreachable.isEmpty { done.append("not reached: \(result.unreachable.joined(separator: ", "))") }
            await orchestrator.journal("elastic.healed", "cluster \(name): \(done.isEmpty ? "nothing left to do" : done.joined(separator: "; "))",
                                 policyCommit: policyCommit)
            healing.withLock { $0.ended(name, failed: false, at: Date()) }
        } catch {
            await orchestrator.journal("elastic.failed", "heal of cluster \(name) failed: \(error)", policyCommit: policyCommit)
            healing.withLock { $0.ended(name, failed: true, at: Date()) }
        }
    }

    /// One evaluation: the actions to start now, named (none in recommend-only mode).
    func evaluate(_ loop: inout ElasticLoop, runner: any ElasticActionRunner) async -> [PreparedAction] {
        await loop.follower.refresh()
        let revision = loop.follower.inForce
        let now = Date()

        // Measure.
        var readings: [TaskUsageReading] = []
        for source in configuration.usageSources {
            do {
                readings += try await source.read()
                loop.clearProblem(of: source.description)
            } catch {
                if loop.noteProblem("\(error)", of: source.description) {
                    await orchestrator.journal("elastic.measure", "\(source.description): \(error); evaluating without it", policyCommit: revision.commit)
                }
            }
        }
        let records: [CVMRecord], hosts: [HostRecord]
        do {
            records = try await orchestrator.store.cvms()
            hosts = try await orchestrator.store.hosts()
        } catch {
            if !(error is CancellationError) {
                logger.warning("cannot read the store; skipping this evaluation", metadata: ["cvm.error": "\(error)"])
            }
            return []
        }
        let heartbeats = loop.heartbeats.observe(records, now: now)
        // Remote hosts' load (the local one is read from /proc by the inventory).
        await hostLoad.sample { !$0.isLocal }
        let observations = ElasticMeasurement.observations(tms: readings, heartbeats: heartbeats, tasks: revision.policy.tasks.keys)
        // A shutdown that began while measuring: plan nothing (no decision, no cooldown).
        if Task.isShuttingDownGracefully || Task.isCancelled { return [] }

        // Anticipate, evaluate, plan.
        let inventory = ElasticInventory.build(
            hosts: hosts, cvms: records, machine: LocalMachine.current(), pending: Array(pending.withLock { $0.values }),
            remoteLoad: hostLoad.load, isAlive: LocalMachine.isAlive)
        let cooldownsBefore = loop.planner.lastActionAt
        let actions = loop.planner.evaluate(
            now: now.timeIntervalSince1970, observations: observations, inventory: inventory, policy: revision.policy,
            policyCommit: revision.commit)
        if !configuration.recommendOnly, loop.planner.lastActionAt != cooldownsBefore {
            do {
                try await orchestrator.store.saveElasticCooldowns(loop.planner.lastActionAt)
            } catch {
                logger.warning("cannot record the cooldowns", metadata: ["cvm.error": "\(error)"])
            }
        }
        if let evaluation = loop.planner.lastEvaluation {
            for task in loop.decisions.changes(in: evaluation) {
                await orchestrator.journal("elastic.decision", DecisionLog.line(for: task), policyCommit: revision.commit)
            }
        }

        // Act (or only say what would be done).
        if configuration.recommendOnly {
            for action in actions {
                await orchestrator.journal("elastic.recommend", cvm: action.cvmName, host: action.hostName,
                                     "would \(action.summary) [\(action.cause.rawValue)] — \(action.reason)", policyCommit: action.policyCommit)
            }
            return []
        }
        var prepared: [PreparedAction] = []
        for action in actions {
            do {
                let taken = Set(prepared.map(\.cvm)).union(pending.withLock { $0.keys })
                prepared.append(try runner.prepare(action, taken: taken, policy: revision.policy))
            } catch {
                await orchestrator.journal("elastic.failed", "\(action.summary) not started: \(error)", policyCommit: action.policyCommit)
            }
        }
        return prepared
    }
}

/// What the loop remembers between evaluations; owned by `run()`.
struct ElasticLoop {
    var follower: PolicyFollower
    var planner = ElasticPlanner()
    var heartbeats = HeartbeatUsage()
    var decisions = DecisionLog()
    private var problems: [String: String] = [:]

    init(follower: PolicyFollower, cooldowns: [String: Double] = [:]) {
        self.follower = follower
        planner = ElasticPlanner(lastActionAt: cooldowns)
    }

    /// Records a source's problem; true when it is new (worth a journal line).
    mutating func noteProblem(_ problem: String, of source: String) -> Bool {
        defer { problems[source] = problem }
        return problems[source] != problem
    }

    mutating func clearProblem(of source: String) {
        problems[source] = nil
    }
}

extension PlannedAction {
    /// The CVM the action concerns, when it exists already.
    var cvmName: String? {
        switch kind {
        case .deploy: nil
        case let .migrate(cvm, _, _), let .decommission(cvm, _): cvm
        }
    }

    /// The host the action starts on (the target of a deploy, the source of a migration).
    var hostName: String {
        switch kind {
        case let .deploy(_, _, host, _, _): host
        case let .migrate(_, from, _): from
        case let .decommission(_, host): host
        }
    }
}
