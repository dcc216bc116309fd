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
}
