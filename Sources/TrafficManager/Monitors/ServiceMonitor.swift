import Logging
import NIOCore

/// Probes one service of one vServer every `interval` (start to start; a probe still running
/// when the next is due makes that one skip), judges each probe with `ServiceHealth`, and on
/// a flip marks the service up or down — which, with a dynamic limit, publishes the new
/// limit to every core. Loop-bound to the control loop.
final class ServiceMonitor {
    let key: MonitorKey
    private(set) var vServer: VServerRuntime
    private(set) var serviceIndex: Int
    private(set) var health: ServiceHealth
    private let loop: any EventLoop
    private let counters: CoreTaskCounters
    private let logger: Logger
    private var timer: RepeatedTask?
    private var inFlight = false
    private(set) var lastFlip: (up: Bool, at: UInt64)?
    /// Probes this monitor started (the stream's `probes`).
    private var probesStarted = 0
    /// The offloaded copy's probe count last adopted, and when: its increase is work done for
    /// this task, counted as this monitor's probes (nil until the copy's first count).
    private var remoteProbes: (count: Int, at: UInt64)?

    init(key: MonitorKey, vServer: VServerRuntime, serviceIndex: Int, config: MonitorConfig,
         loop: any EventLoop, counters: CoreTaskCounters, logger: Logger) {
        self.key = key
        self.vServer = vServer
        self.serviceIndex = serviceIndex
        self.loop = loop
        self.counters = counters
        self.logger = logger
        health = ServiceHealth(config: config, isUp: vServer.services[serviceIndex].isUp)
    }

    func start() {
        let interval = TimeAmount.nanoseconds(health.config.interval.totalNanoseconds)
        let monitor = NIOLoopBound(self, eventLoop: loop)
        timer = loop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in monitor.value.probe() }
    }

    func stop() {
        timer?.cancel()
        timer = nil
        remoteProbes = nil
    }

    /// A reload kept this service and monitor: report to the new generation's vServer (where
    /// the service may have moved in the list), and make sure it has this monitor's verdict.
    func retarget(_ vServer: VServerRuntime, serviceIndex: Int) {
        self.vServer = vServer
        self.serviceIndex = serviceIndex
        if vServer.services[serviceIndex].isUp != health.isUp {
            vServer.setService(serviceIndex, up: health.isUp)
        }
    }

    /// This monitor's state, as the monitoring stream carries it.
    var state: MonitorState {
        MonitorState(vServer: key.vServer, service: key.service, up: health.isUp,
                     lastMs: health.lastResponseSeconds.map { $0 * 1000 }, averageMs: health.timing.average.map { $0 * 1000 },
                     samples: health.timing.samples, probes: probesStarted)
    }

    /// Takes over the state an offloaded copy of this monitor reached; a flip marks the
    /// service up or down as a probe's would. Returns whether it flipped.
    func adopt(_ remote: MonitorState) -> Bool {
        let wasUp = health.isUp
        health.adopt(isUp: remote.up, average: remote.averageMs.map { $0 / 1000 }, samples: remote.samples,
                     lastResponseSeconds: remote.lastMs.map { $0 / 1000 })
        countRemoteProbes(remote.probes)
        let service = vServer.services[serviceIndex]
        guard service.isUp != remote.up || wasUp != remote.up else { return false }
        lastFlip = (remote.up, MonotonicTime.nanos())
        let limit = vServer.setService(serviceIndex, up: remote.up)
        logger.info("service \(remote.up ? "up" : "down")", metadata: [
            "cvm.vserver": "\(vServer.config.name)", "cvm.service": "\(service.config.name)",
            "cvm.verdict": "offloaded monitor", "cvm.limit": "\(limit)",
        ])
        return true
    }

    /// Counts the probes the offloaded copy started since its last count as this task's
    /// probes (connections opened and closed), so the task's probes per second are the same
    /// wherever it runs. A count that went back (another copy) is a new baseline; an increase
    /// is bounded by what the interval allows since the last count (a guest's figure never
    /// inflates the task's usage).
    private func countRemoteProbes(_ count: Int?) {
        guard let count else { return }
        let now = MonotonicTime.nanos()
        if let last = remoteProbes {
            let added = Self.countedProbes(from: last.count, to: count, elapsedNanos: now &- last.at,
                                           intervalNanos: health.config.interval.totalNanoseconds)
            if added > 0 {
                counters.opened.add(added)
                counters.closed.add(added)
            }
        }
        remoteProbes = (count, now)
    }

    /// The probes counted for a copy's count going from `previous` to `count`: the increase,
    /// at most what one probe per interval allows in `elapsedNanos` (plus two for timing);
    /// none when the count went back.
    static func countedProbes(from previous: Int, to count: Int, elapsedNanos: UInt64, intervalNanos: Int64) -> Int {
        guard count > previous else { return 0 }
        let allowed = Double(elapsedNanos) / Double(max(intervalNanos, 1)) + 2
        return min(count - previous, Int(min(allowed, 1e12)))
    }

    private func probe() {
        guard !inFlight else { return }
        inFlight = true
        probesStarted += 1
        let began = MonotonicTime.nanos()
        counters.opened.add(1)
        let service = vServer.services[serviceIndex]
        Probe.run(health.config.kind, address: service.address, host: service.config.address,
                  timeout: health.config.timeout, tls: service.tls, on: loop)
            .assumeIsolated().whenSuccess { [self] outcome, traffic in
                let handled = MonotonicTime.nanos()
                inFlight = false
                counters.closed.add(1)
                counters.bytesOut.add(traffic.bytesSent)
                counters.bytesIn.add(traffic.bytesReceived)
                let (verdict, flip) = health.record(outcome)
                if !verdict.isHealthy { counters.connectFailures.add(1) }
                if let up = flip {
                    lastFlip = (up, handled)
                    let limit = vServer.setService(serviceIndex, up: up)
                    logger.info("service \(up ? "up" : "down")", metadata: [
                        "cvm.vserver": "\(vServer.config.name)", "cvm.service": "\(service.config.name)",
                        "cvm.verdict": "\(verdict)", "cvm.limit": "\(limit)",
                    ])
                }
                counters.busyNanos.add(Int(MonotonicTime.nanos() &- handled))
            }
        counters.busyNanos.add(Int(MonotonicTime.nanos() &- began))
    }
}

/// Identifies a running monitor across reloads: the same vServer, service address and monitor
/// configuration keep the monitor (and its up/down state) running.
struct MonitorKey: Hashable {
    let vServer: String
    let service: String
    let address: HostPort
    let monitor: MonitorConfig
}
