import TMSCore

/// The one owner of a use admitted by a vServer's quota on one core.
///
/// A lease exists only for an admitted use (created right after `admit` succeeded, or for a
/// waiter the quota served), and `release` gives the use back at most once however often it
/// is called — so whatever way a connection ends (client reset, backend refusal, timeout,
/// shutdown, or several of those racing), the quota is released exactly once as long as the
/// connection's end calls `release`. Loop-bound: the core's event loop creates, holds and
/// releases it (the quota's per-core contract).
public final class QuotaLease {
    public let quota: VServerQuota
    public let core: Int
    public private(set) var isReleased = false

    /// Takes ownership of one use `quota` already admitted on `core`.
    public init(admittedBy quota: VServerQuota, core: Int) {
        self.quota = quota
        self.core = core
    }

    /// Gives the use back; returns the quota's answer the first time, `nil` afterwards.
    @discardableResult
    public func release(now: Duration? = nil) -> Release? {
        guard !isReleased else { return nil }
        isReleased = true
        return quota.release(core: core, now: now)
    }
}

@available(*, unavailable, message: "a lease belongs to one core's event loop")
extension QuotaLease: Sendable {}
