import Synchronization

/// Lets the heartbeat monitor wake elastic mode's loop when it confirms a failure (a CVM
/// failed, a host lost, a master promoted) instead of leaving the replacement to the next
/// policy interval (15 s by default). One per process, shared by the two services.
public final class WakeUp: Sendable {
    private let requested = Atomic<Bool>(false)

    public init() {}

    /// Asks the waiter to return now (or, if none waits, at the start of its next wait).
    public func signal() {
        requested.store(true, ordering: .releasing)
    }

    /// Returns after `seconds`, or within 100 ms of a `signal()` (one made before the call
    /// included), or when the task is cancelled.
    public func wait(seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, seconds) * 1000))
        while ContinuousClock.now < deadline && !Task.isCancelled {
            if requested.exchange(false, ordering: .acquiringAndReleasing) { return }
            try? await Task.sleep(for: min(.milliseconds(100), deadline - ContinuousClock.now))
        }
        _ = requested.exchange(false, ordering: .acquiringAndReleasing)
    }
}
