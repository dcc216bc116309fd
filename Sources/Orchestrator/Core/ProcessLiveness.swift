import Foundation
import Glibc

/// Whether a process is alive, for ownership checks (a deploy in progress, a cluster being
/// changed, a running monitor). The one place that asks the kernel.
///
/// A pid alone is not an identity: pids are reused, and a row owned by a process that died
/// would stay blocked by whatever process got its number. Owners are recorded with their
/// start time (`/proc/PID/stat`, clock ticks since boot), and a pid whose start time differs
/// is not that owner.
package enum ProcessLiveness {
    /// True when `pid` names a live process (one we may not signal, EPERM, counts too) and,
    /// when `start` is given, that process started at `start`.
    package static func isAlive(_ pid: Int32, start: Int64? = nil) -> Bool {
        guard pid > 0 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let start, let actual = startTime(of: pid) else { return true }
        return actual == start
    }

    /// True when the owner is alive and is not this process: another process owns the thing.
    package static func isOtherLiveProcess(_ pid: Int32?, start: Int64? = nil) -> Bool {
        guard let pid, pid != getpid() else { return false }
        return isAlive(pid, start: start)
    }

    /// This process's start time, recorded next to its pid when it takes ownership.
    package static let currentStart: Int64? = startTime(of: getpid())

    /// Field 22 of `/proc/PID/stat`: when the process started, in clock ticks since boot.
    /// Nil when it cannot be read (no such process, not Linux).
    package static func startTime(of pid: Int32) -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After the command name (which may hold spaces and parentheses) come fields 3 onwards.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19 else { return nil }
        return Int64(fields[19])
    }
}

extension MonitorRecord {
    /// A monitor runs when its process lives and it ticked in the last 5 s (it ticks every
    /// 250 ms; the tick also tells a reused pid from the monitor).
    public func isAlive(now: Date) -> Bool {
        ProcessLiveness.isAlive(pid) && now.timeIntervalSince(tickAt) < 5
    }
}
