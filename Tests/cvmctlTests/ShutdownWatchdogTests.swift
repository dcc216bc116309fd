import Foundation
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing
@testable import cvmctl

@Suite struct ShutdownWatchdogTests {
    final class Expiries: Sendable {
        let fired = Mutex<[(message: String, at: ContinuousClock.Instant)]>([])
        var all: [(message: String, at: ContinuousClock.Instant)] { fired.withLock { $0 } }
    }

    @Test("armed when the shutdown begins (run() returns at once), it expires at its deadline from then, once")
    func expiresAtTheDeadlineAfterTheShutdownBegan() async throws {
        let expiries = Expiries()
        let watchdog = ShutdownWatchdog(deadline: .seconds(1), what: "the test") { message in
            expiries.fired.withLock { $0.append((message, ContinuousClock.now)) }
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await watchdog.run() }
                try await Task.sleep(for: .milliseconds(1200))
                #expect(expiries.all.isEmpty, "armed before the shutdown")
                let asked = ContinuousClock.now
                trigger.triggerGracefulShutdown()
                try await group.next()
                #expect(ContinuousClock.now - asked < .milliseconds(500))
                try await Task.sleep(for: .milliseconds(600))
                #expect(expiries.all.isEmpty, "expired early")
                try await Task.sleep(for: .milliseconds(1400))
                let fired = expiries.all
                #expect(fired.count == 1)
                #expect(fired.first.map { $0.at - asked >= .seconds(1) } == true)
                #expect(fired.first?.message == "the test did not stop within 1 s of the shutdown (a libvirt call did not return); exiting")
            }
        }
    }

    @Test("a cancelled group arms it too")
    func cancellationArmsIt() async throws {
        let expiries = Expiries()
        let watchdog = ShutdownWatchdog(deadline: .milliseconds(100), what: "the test") { message in
            expiries.fired.withLock { $0.append((message, ContinuousClock.now)) }
        }
        let running = Task { try await watchdog.run() }
        running.cancel()
        try await running.value
        try await Task.sleep(for: .milliseconds(800))
        #expect(expiries.all.count == 1)
    }
}
