import Libvirt
import Foundation

/// How busy each remote host is (0...1): its CPU busy fraction between two evaluations of
/// elastic mode, from the CPU times libvirt reports over the host's own connection. A host
/// whose times cannot be read has no load figure and is tried again after `retryAfter` (so an
/// unreachable host does not slow every evaluation down). Pure bookkeeping; the service reads.
struct RemoteHostLoad {
    var retryAfter: TimeInterval = 60
    private var last: [String: HostCPUTimes] = [:]
    private var failedAt: [String: Date] = [:]
    /// The latest busy fraction per host.
    private(set) var load: [String: Double] = [:]

    func shouldSample(_ host: String, now: Date) -> Bool {
        guard let failed = failedAt[host] else { return true }
        return now.timeIntervalSince(failed) >= retryAfter
    }

    mutating func record(_ host: String, _ times: HostCPUTimes) {
        failedAt[host] = nil
        if let previous = last[host], let fraction = times.busyFraction(since: previous) { load[host] = fraction }
        last[host] = times
    }

    mutating func failed(_ host: String, now: Date) {
        failedAt[host] = now
        last[host] = nil
        load[host] = nil
    }
}
