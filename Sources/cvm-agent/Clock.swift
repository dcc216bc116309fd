import Glibc

/// Monotonic time and sleeping, in milliseconds.
enum Clock {
    /// Milliseconds on the monotonic clock (does not jump with the wall clock).
    static func monotonicMs() -> Int64 {
        read(CLOCK_MONOTONIC)
    }

    /// Milliseconds since boot, suspend included (the heartbeat's `uptimeMs`).
    static func uptimeMs() -> Int64 {
        read(CLOCK_BOOTTIME)
    }

    /// Sleeps `ms` milliseconds (restarting after signals).
    static func sleep(ms: Int64) {
        guard ms > 0 else { return }
        var request = timespec(tv_sec: Int(ms / 1000), tv_nsec: Int(ms % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        clock_gettime(clock, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
