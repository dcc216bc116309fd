import Foundation
import Logging
@testable import Orchestrator
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// How the monitor starts and stops, in-process. With no CVM in the store it opens no libvirt
/// connection (its local host is libvirt's test driver anyway), so no daemon is needed.
@Suite("HeartbeatMonitor lifecycle", .timeLimit(.minutes(2)))
struct HeartbeatMonitorTests {
    struct Site {
        let state: String
        let orchestrator: CVMOrchestrator

        init() throws {
            state = try Fixtures.temporaryDirectory()
            orchestrator = try CVMOrchestrator(configuration: .init(
                stateDirectory: state, imagesDirectory: TestCatalog.imagesDirectory, localURI: "test:///default"))
        }

        func remove() {
            try? FileManager.default.removeItem(atPath: state)
        }

        func monitor(tick: Duration = .milliseconds(20)) -> HeartbeatMonitor {
            HeartbeatMonitor(orchestrator: orchestrator, tick: tick, logger: Logger(label: "test"))
        }

        /// The monitor row says this process is watching.
        func watching() async -> Bool {
            (try? await orchestrator.store.monitor())?.pid == getpid()
        }
    }

    @Test("graceful shutdown: run() returns without waiting out its tick and the monitor row is gone")
    func gracefulShutdown() async throws {
        let site = try Site()
        defer { site.remove() }
        // A tick far longer than the bound below: returning in time means the shutdown ended
        // the wait. (The bound is loose on purpose: with the whole suite running in parallel on
        // two cores, a prompt shutdown has been measured at 8.5 s.)
        let monitor = site.monitor(tick: .seconds(120))
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await monitor.run() }
                #expect(await eventually { await site.watching() })
                let asked = ContinuousClock.now
                trigger.triggerGracefulShutdown()
                try await group.next()
                #expect(ContinuousClock.now - asked < .seconds(40))
            }
        }
        #expect(try await site.orchestrator.store.monitor() == nil)
    }

    @Test("in a service group (what SIGTERM triggers in `cvmctl monitor`): the group returns and the row is gone")
    func serviceGroup() async throws {
        let site = try Site()
        defer { site.remove() }
        let group = ServiceGroup(configuration: .init(services: [.init(service: site.monitor())], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await eventually { await site.watching() })
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
        #expect(try await site.orchestrator.store.monitor() == nil)
    }

    @Test("cancelled (a graceful shutdown that took too long): run() returns and still clears the row")
    func cancellation() async throws {
        let site = try Site()
        defer { site.remove() }
        let monitor = site.monitor()
        let running = Task { try await monitor.run() }
        #expect(await eventually { await site.watching() })
        running.cancel()
        try await running.value
        #expect(try await site.orchestrator.store.monitor() == nil)
    }
}
