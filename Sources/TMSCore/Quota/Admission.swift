/// Where the quota for an admitted use came from.
public enum AdmissionSource: Sendable, Hashable {
    /// Within the core's exclusive number.
    case exclusive
    /// Beyond the exclusive number, from a batch the core already held.
    case heldBatch
    /// Beyond the exclusive number, from a batch borrowed from the shared pool for this use.
    case newBatch

    /// Whether the use counts as borrowed from the shared pool.
    public var isBorrowed: Bool { self != .exclusive }
}

/// Why a use could not be admitted now.
public enum RefusalReason: Sendable, Hashable, CustomStringConvertible {
    /// The core's quota is used up and the shared pool cannot lend a batch
    /// (or requests are already waiting for the next batch).
    case sharedPoolExhausted
    /// After a limit decrease the vServer holds more than its new limit; nothing is
    /// admitted until enough uses end.
    case overLimit
    /// A decreased limit is being published at this instant; retry or wait.
    case limitChanging
    /// The wait queue is full.
    case queueFull

    public var description: String {
        switch self {
        case .sharedPoolExhausted: return "shared pool exhausted"
        case .overLimit: return "over the limit"
        case .limitChanging: return "limit changing"
        case .queueFull: return "wait queue full"
        }
    }
}

/// The answer to `VServerQuota.admit(core:)`.
public enum Admission: Sendable, Hashable {
    /// The use is admitted and counted on the core; call `release(core:)` when it ends.
    case admitted(AdmissionSource)
    /// No quota now, and the vServer's queue policy lets the request wait: call
    /// `admitOrWait(core:ticket:now:)` to queue it.
    case wouldQueue(RefusalReason)
    /// No quota now and the vServer does not queue.
    case refused(RefusalReason)

    public var isAdmitted: Bool {
        if case .admitted = self { return true }
        return false
    }
}

/// The answer to `VServerQuota.admitOrWait(core:ticket:now:)`.
public enum WaitAdmission: Sendable, Hashable {
    case admitted(AdmissionSource)
    /// Queued at `position` (1 = next to be served). The request is later reported as served
    /// (admitted on its core) or expired by `release` or `serveWaiters(now:)`.
    case queued(position: Int)
    case refused(RefusalReason)
}
