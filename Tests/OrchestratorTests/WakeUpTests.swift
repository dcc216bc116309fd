@testable import Orchestrator
import Foundation
import Testing

/// Elastic mode's wait between evaluations, cut short by the monitor's signal.
@Suite struct WakeUpTests {
    @Test func aSignalGivenBeforeTheWaitEndsItAtOnce() async {
        let wakeUp = WakeUp()
        wakeUp.signal()
        let started = ContinuousClock.now
        await wakeUp.wait(seconds: 120)
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func aSignalDuringTheWaitEndsIt() async {
        let wakeUp = WakeUp()
        let started = ContinuousClock.now
        // From a thread of its own: the cooperative pool may be busy with other suites.
        Thread.detachNewThread {
            usleep(200_000)
            wakeUp.signal()
        }
        await wakeUp.wait(seconds: 120)
        // Far below the 120 s the wait lasts without the signal (a loaded parallel run can
        // delay the waiter's own wake-ups by seconds).
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    @Test func withoutASignalTheWaitLastsItsTimeAndASignalIsUsedOnce() async {
        let wakeUp = WakeUp()
        wakeUp.signal()
        await wakeUp.wait(seconds: 120)
        let started = ContinuousClock.now
        await wakeUp.wait(seconds: 0.3)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }
}
