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
                     samples: health.timing.samples)
    }

    /// Takes over the state an offloaded copy of this monitor reached; a flip marks the
    /// service up or down as a probe's would. Returns whether it flipped.
    func adopt(_ remote: MonitorState) -> Bool {
        let wasUp = health.isUp
        health.adopt(isUp: remote.up, average: remote.averageMs.map { $0 / 1000 }, samples: remote.samples,
                     lastResponseSeconds: remote.lastMs.map { $0 / 1000 })
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

    private func probe() {
        guard !inFlight else { return }
        inFlight = true
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
