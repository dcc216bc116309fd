import NIOCore

/// The monotonic clock every part of the traffic manager uses (quota queues, persistence,
/// bandwidth intervals, idle timeouts, busy time): nanoseconds since an arbitrary origin,
/// the same for every thread.
enum MonotonicTime {
    @inline(__always)
    static func nanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    /// Now as a `Duration` since the origin (what TMSCore's pure types take as `now`).
    @inline(__always)
    static func now() -> Duration { .nanoseconds(Int64(nanos())) }
}
