/// The answer to `VServerQuota.release(core:now:)`.
public struct Release: Sendable, Hashable {
    /// Uses given back to the shared pool by this release (0, or one batch).
    public var returnedToShared: Int
    /// Waiting requests served or expired as a consequence.
    public var waiters: WaiterUpdate

    @inlinable
    public init(returnedToShared: Int, waiters: WaiterUpdate = WaiterUpdate()) {
        self.returnedToShared = returnedToShared
        self.waiters = waiters
    }
}
