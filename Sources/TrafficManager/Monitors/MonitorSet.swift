import Logging
import NIOCore
import Synchronization

/// Every service monitor of the traffic manager, on the control loop. `apply(table)` after a
/// reload keeps the monitors whose key is unchanged (retargeted to the new vServer), stops
/// the others and starts the new ones. Each monitor configuration is one usage task.
final class MonitorSet: Sendable {
    private let loop: any EventLoop
    private let logger: Logger
    private let state: NIOLoopBoundBox<State>
    /// The usage tasks of the monitors, by monitor name (read by the usage sampler).
    let tasks = Mutex<[String: TaskUsage]>([:])

    struct State {
        var monitors: [MonitorKey: ServiceMonitor] = [:]
        /// Offloaded: the monitors do not probe; states come from a follower (`adopt`).
        var remote = false
    }

    init(loop: any EventLoop, logger: Logger) {
        self.loop = loop
        self.logger = logger
        state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    /// Runs the monitors `table` calls for.
    func apply(_ table: RoutingTable) async throws {
        var usage: [String: TaskUsage] = tasks.withLock { $0 }
        for monitor in table.config.monitors where usage[monitor.name]?.task != monitor.task || usage[monitor.name] == nil {
            usage[monitor.name] = TaskUsage(name: "monitor/\(monitor.name)", task: monitor.task, kind: .monitor, cellLoops: [-1])
        }
        usage = usage.filter { name, _ in table.config.monitor(named: name) != nil }
        tasks.withLock { $0 = usage }
        let logger = self.logger
        let monitorUsage = usage
        try await loop.submit { [state, loop] in
            var wanted: [MonitorKey: (VServerRuntime, Int, MonitorConfig)] = [:]
            for vServer in table.vServers.values {
                guard let name = vServer.config.monitor, let monitor = table.config.monitor(named: name) else { continue }
                for (index, service) in vServer.services.enumerated() {
                    let key = MonitorKey(vServer: vServer.config.name, service: service.config.name,
                                         address: service.config.address, monitor: monitor)
                    wanted[key] = (vServer, index, monitor)
                }
            }
            var monitors = state.value.monitors
            for (key, monitor) in monitors where wanted[key] == nil {
                monitor.stop()
                monitors[key] = nil
            }
            for (key, (vServer, index, config)) in wanted {
                if let running = monitors[key] {
                    running.retarget(vServer, serviceIndex: index)
                } else {
                    let monitor = ServiceMonitor(key: key, vServer: vServer, serviceIndex: index, config: config, loop: loop,
                                                 counters: monitorUsage[config.name]!.cells[0], logger: logger)
                    monitors[key] = monitor
                    if !state.value.remote { monitor.start() }
                }
            }
            state.value.monitors = monitors
        }.get()
    }

    // On-loop variants, for the monitoring stream's handlers (which run on the control loop).

    func setRemoteOnLoop(_ remote: Bool) -> Bool {
        guard state.value.remote != remote else { return false }
        state.value.remote = remote
        for monitor in state.value.monitors.values {
            if remote { monitor.stop() } else { monitor.start() }
        }
        return true
    }

    func adoptOnLoop(_ states: [MonitorState]) -> Int {
        var flips = 0
        for monitor in state.value.monitors.values {
            guard let remote = states.last(where: { $0.vServer == monitor.key.vServer && $0.service == monitor.key.service }) else { continue }
            if monitor.adopt(remote) { flips += 1 }
        }
        return flips
    }

    func snapshotOnLoop() -> [MonitorState] {
        state.value.monitors.values.map(\.state).sorted { ($0.vServer, $0.service) < ($1.vServer, $1.service) }
    }

    var controlLoop: any EventLoop { loop }

    /// Pauses the monitors (their states then come from `adopt`) or resumes them, from the
    /// states they hold. Returns whether that changed anything.
    @discardableResult
    func setRemote(_ remote: Bool) async -> Bool {
        (try? await loop.submit { self.setRemoteOnLoop(remote) }.get()) ?? false
    }

    /// Whether the monitors are paused for an offloaded copy.
    var isRemote: Bool {
        get async { (try? await loop.submit { [state] in state.value.remote }.get()) ?? false }
    }

    /// Applies states another traffic manager's monitors reached, service by service (by
    /// vServer and service name), as these monitors would: a flip marks the service up or
    /// down. Returns how many services flipped.
    @discardableResult
    func adopt(_ states: [MonitorState]) async -> Int {
        (try? await loop.submit { self.adoptOnLoop(states) }.get()) ?? 0
    }

    /// Every monitor's state, for a follower.
    func snapshot() async -> [MonitorState] {
        (try? await loop.submit { self.snapshotOnLoop() }.get()) ?? []
    }

    /// What each monitor last saw, for `/status`.
    func statuses() async -> [MonitorStatus] {
        (try? await loop.submit { [state] in
            state.value.monitors.values.map { monitor in
                MonitorStatus(vServer: monitor.key.vServer, service: monitor.key.service, monitor: monitor.key.monitor.name,
                              up: monitor.health.isUp, lastVerdict: monitor.health.lastVerdict?.description,
                              lastResponseMs: monitor.health.lastResponseSeconds.map { $0 * 1000 },
                              averageResponseMs: monitor.health.timing.average.map { $0 * 1000 },
                              samples: monitor.health.timing.samples)
            }.sorted { ($0.vServer, $0.service) < ($1.vServer, $1.service) }
        }.get()) ?? []
    }

    func stop() async {
        try? await loop.submit { [state] in
            for monitor in state.value.monitors.values { monitor.stop() }
            state.value.monitors = [:]
        }.get()
    }
}

/// A monitor's view of one service.
public struct MonitorStatus: Sendable, Hashable, Codable {
    public var vServer: String
    public var service: String
    public var monitor: String
    public var up: Bool
    public var lastVerdict: String?
    public var lastResponseMs: Double?
    public var averageResponseMs: Double?
    /// Probes that answered in time (the average's samples), taken over from an offloaded copy
    /// while monitoring is offloaded.
    public var samples: Int = 0
}
