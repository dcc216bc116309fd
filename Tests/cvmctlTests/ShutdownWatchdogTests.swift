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

    @Test("armed when the shutdown begins (run() returns at once), it expires once, at its deadline from then")
    func expiresAtTheDeadlineAfterTheShutdownBegan() async throws {
        let expiries = Expiries()
        let watchdog = ShutdownWatchdog(deadline: .seconds(1), what: "the test") { message in
            expiries.fired.withLock { $0.append((message, ContinuousClock.now)) }
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await watchdog.run() }
                // Longer than the deadline without a shutdown: not armed.
                try await Task.sleep(for: .milliseconds(1500))
                #expect(expiries.all.isEmpty, "armed before the shutdown")
                let asked = ContinuousClock.now
                trigger.triggerGracefulShutdown()
                try await group.next()
                let returned = ContinuousClock.now
                for _ in 0..<500 where expiries.all.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                let fired = expiries.all
                #expect(fired.count == 1)
                #expect(fired.first.map { $0.at - asked >= .seconds(1) } == true, "expired early")
                #expect(fired.first.map { returned < $0.at } == true, "run() waited for the deadline")
                #expect(fired.first?.message == "the test did not stop within 1 s of the shutdown (a libvirt call did not return); exiting")
            }
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(expiries.all.count == 1)
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
