import Foundation

/// What a decommission did.
public struct DecommissionResult: Sendable {
    public enum Outcome: String, Sendable {
        /// The agent acknowledged the stop and powered the guest off by itself.
        case stoppedGracefully
        /// The agent did not stop in time (or the guest was not running); the domain was destroyed.
        case destroyed
        /// Nothing was left to remove: a retry after an earlier decommission.
        case alreadyGone
        /// Its host does not answer: the CVM left its cluster or task and is destroyed by
        /// the heartbeat monitor when the host answers again.
        case deferred
    }
    public var name: String
    public var outcome: Outcome
    public var totalMs: Int
    /// How a serving CVM's drain ended; nil when there was nothing to drain.
    public var drain: DrainOutcome? = nil
}

/// The drain of a CVM whose data plane serves: once it is `stopping`, the traffic manager
/// sends it no new connections, and the decommission waits for the open ones to end.
public struct DrainOutcome: Sendable, Hashable {
    /// The most connections its data plane reported during the drain, and the count at its end.
    public var initial: Int64
    public var remaining: Int64
    public var waitedMs: Int
    /// True when connections were still open at the drain timeout.
    public var timedOut: Bool { remaining > 0 }

    public var summary: String {
        timedOut
            ? "drain timeout after \(waitedMs) ms with \(remaining) of \(initial) connections still open"
            : "drained \(initial) connections in \(waitedMs) ms"
    }
}
