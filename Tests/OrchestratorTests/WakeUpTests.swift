@testable import Orchestrator
import Foundation
import Testing

/// Elastic mode's wait between evaluations, cut short by the monitor's signal.
@Suite struct WakeUpTests {
    @Test func aSignalGivenBeforeTheWaitEndsItAtOnce() async {
        let wakeUp = WakeUp()
        wakeUp.signal()
        let started = ContinuousClock.now
        await wakeUp.wait(seconds: 30)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func aSignalDuringTheWaitEndsIt() async {
        let wakeUp = WakeUp()
        let started = ContinuousClock.now
        Task {
            try? await Task.sleep(for: .milliseconds(200))
            wakeUp.signal()
        }
        await wakeUp.wait(seconds: 30)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func withoutASignalTheWaitLastsItsTimeAndASignalIsUsedOnce() async {
        let wakeUp = WakeUp()
        wakeUp.signal()
        await wakeUp.wait(seconds: 30)
        let started = ContinuousClock.now
        await wakeUp.wait(seconds: 0.3)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
    }
}
