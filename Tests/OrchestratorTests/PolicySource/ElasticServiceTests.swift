@testable import Planning
import Foundation
import Logging
@testable import Orchestrator
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// How elastic mode stops, in-process: over a real git policy repository and a real store,
/// with the actions carried out by ``GatedRunner`` (no hypervisor).
@Suite("ElasticService lifecycle", .timeLimit(.minutes(1)))
struct ElasticServiceTests {
    struct Site {
        let repo: GitTestRepository
        let state: String
        let orchestrator: CVMOrchestrator

        /// `policy` committed on main.
        init(policy: String) throws {
            repo = try GitTestRepository()
            state = try Fixtures.temporaryDirectory()
            orchestrator = try CVMOrchestrator(configuration: .init(
                stateDirectory: state, imagesDirectory: TestCatalog.imagesDirectory, localURI: "test:///default"))
            try repo.commit(["policies/policy.yaml": policy])
        }

        func remove() {
            repo.remove()
            try? FileManager.default.removeItem(atPath: state)
        }

        func service(_ configuration: ElasticConfiguration, runner: GatedRunner? = nil) async throws -> ElasticService {
            let follower = try await PolicyFollower.start(
                orchestrator: orchestrator, repository: repo.repository, ref: "refs/heads/main",
                recordsApplied: !configuration.recommendOnly, origin: "elastic")
            if let runner {
                return ElasticService(orchestrator: orchestrator, follower: follower, configuration: configuration,
                                      logger: Logger(label: "test"), configurer: nil, runner: runner)
            }
            return ElasticService(orchestrator: orchestrator, follower: follower, configuration: configuration,
                                  logger: Logger(label: "test"))
        }

        func events() async throws -> [EventRecord] {
            try await orchestrator.store.events()
        }
    }

    /// A task that must have one CVM: the first evaluation deploys it.
    static let policyWithMinimum = GitTestRepository.policy(maxCVMs: 1, interval: 0.2)
        .replacingOccurrences(of: "    maxCVMs: 1", with: "    maxCVMs: 1\n    minCVMs: 1")

    @Test("graceful shutdown: the wait for the next evaluation ends, none starts, run() returns")
    func stopsBetweenEvaluations() async throws {
        // (The forecast window must cover two intervals.)
        let policy = GitTestRepository.policy(interval: 60).replacingOccurrences(of: "windowSeconds: 10", with: "windowSeconds: 120")
        let site = try Site(policy: policy)
        defer { site.remove() }
        let service = try await site.service(ElasticConfiguration(recommendOnly: true))
        var seen: Int64 = 0
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                // The first evaluation is done once its decisions are journaled.
                #expect(try await eventually { try await site.events().contains { $0.kind == "elastic.decision" } })
                seen = try await site.events().last?.id ?? 0
                let asked = ContinuousClock.now
                trigger.triggerGracefulShutdown()
                try await group.next()
                // Not the 60 s interval (loose: a busy two-core suite delays any task by seconds).
                #expect(ContinuousClock.now - asked < .seconds(30))
            }
        }
        let after = try await site.orchestrator.store.events(after: seen)
        #expect(after.map(\.kind) == ["elastic.stopped"])
        #expect(after.first?.message == "stopped gracefully; actions under way finished")
    }

    @Test("graceful shutdown waits for the action under way to finish")
    func awaitsTheActionUnderWay() async throws {
        let site = try Site(policy: Self.policyWithMinimum)
        defer { site.remove() }
        let runner = GatedRunner()
        let service = try await site.service(ElasticConfiguration(), runner: runner)
        let returned = Flag()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await service.run()
                    returned.set()
                }
                #expect(await eventually { runner.started.count == 1 })
                trigger.triggerGracefulShutdown()
                // Several intervals later: still waiting for the action, and no new one started.
                try await Task.sleep(for: .milliseconds(600))
                #expect(!returned.isSet)
                #expect(runner.log == [.started(runner.started[0])])
                runner.release()
                try await group.next()
            }
        }
        let cvm = try #require(runner.started.first)
        #expect(runner.log == [.started(cvm), .finished(cvm)])
        let stopped = try #require(try await site.events().last)
        #expect(stopped.kind == "elastic.stopped")
        #expect(stopped.message == "stopped gracefully; actions under way finished")
    }

    @Test("--once: one evaluation, then run() returns once its actions are done")
    func onceWaitsForItsActions() async throws {
        let site = try Site(policy: Self.policyWithMinimum)
        defer { site.remove() }
        let runner = GatedRunner()
        let service = try await site.service(ElasticConfiguration(once: true), runner: runner)
        let returned = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await service.run()
                returned.set()
            }
            #expect(await eventually { runner.started.count == 1 })
            try await Task.sleep(for: .milliseconds(300))
            #expect(!returned.isSet)
            runner.release()
            try await group.next()
        }
        #expect(runner.log.count == 2)
        #expect(try await site.events().last?.message == "one evaluation done")
    }

    @Test("past maximumGracefulShutdownDuration the group cancels the action under way, which is undone; run() returns")
    func deadlineCancelsTheActionUnderWay() async throws {
        let site = try Site(policy: Self.policyWithMinimum)
        defer { site.remove() }
        let runner = GatedRunner()
        let service = try await site.service(ElasticConfiguration(), runner: runner)
        // As `cvmctl elastic run` sets it up, with a short deadline.
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)], logger: Logger(label: "test"))
        configuration.maximumGracefulShutdownDuration = .milliseconds(300)
        let group = ServiceGroup(configuration: configuration)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await eventually { runner.started.count == 1 })
            let asked = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await tasks.next()
            #expect(ContinuousClock.now - asked >= .milliseconds(300))
            #expect(ContinuousClock.now - asked < .seconds(30))
        }
        let cvm = try #require(runner.started.first)
        #expect(runner.log == [.started(cvm), .cancelled(cvm)])
        let stopped = try #require(try await site.events().last)
        #expect(stopped.kind == "elastic.stopped")
        #expect(stopped.message == "cancelled; actions under way were undone")
    }
}

/// Carries nothing out: each action waits until ``release()`` or until its task is cancelled
/// (as a deploy then rolls back), and the log says which.
final class GatedRunner: ElasticActionRunner {
    enum Entry: Equatable, Sendable {
        case started(String), finished(String), cancelled(String)
    }

    private let state = Mutex((log: [Entry](), released: false, count: 0))

    var log: [Entry] { state.withLock { $0.log } }
    var started: [String] {
        log.compactMap { if case .started(let cvm) = $0 { cvm } else { nil } }
    }

    func release() {
        state.withLock { $0.released = true }
    }

    func prepare(_ action: PlannedAction, taken: Set<String>, policy: PolicySet?) throws -> PreparedAction {
        let n = state.withLock { state in
            state.count += 1
            return state.count
        }
        return PreparedAction(action: action, cvm: "\(action.task)-\(n)")
    }

    func perform(_ prepared: PreparedAction) async -> ActionOutcome {
        state.withLock { $0.log.append(.started(prepared.cvm)) }
        while !state.withLock({ $0.released }) && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if Task.isCancelled {
            state.withLock { $0.log.append(.cancelled(prepared.cvm)) }
            return ActionOutcome(prepared: prepared, failure: "interrupted; undone", summary: "interrupted; undone")
        }
        state.withLock { $0.log.append(.finished(prepared.cvm)) }
        return ActionOutcome(prepared: prepared, failure: nil, summary: "done")
    }
}

/// Set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
