import Glibc

/// Whether a process is alive, for ownership checks (a deploy in progress, a cluster being
/// changed, a running monitor). The one place that asks the kernel.
package enum ProcessLiveness {
    /// True when `pid` names a live process. A process we may not signal (EPERM) is alive too.
    package static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// True when `pid` is alive and is not this process: another process owns the thing.
    package static func isOtherLiveProcess(_ pid: Int32?) -> Bool {
        guard let pid, pid != getpid() else { return false }
        return isAlive(pid)
    }
}
