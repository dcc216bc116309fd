import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TMSCore

/// A running vServer: its configuration, quota, services and usage counters, shared by every
/// core. Per-core balancing state lives in `perCore` (each box touched only by its core's loop).
public final class VServerRuntime: Sendable {
    public let config: VServerConfig
    public let id: VServerID
    public let quota: VServerQuota
    public let services: [ServiceRuntime]
    public let usage: TaskUsage
    /// The health verdicts and capacities behind a dynamic limit.
    let capacities: Mutex<ServiceCapacities>
    /// Clients this vServer (as a primary) sent to a backup, when persistence is on.
    let persistence: PersistenceTable?
    /// The service each client's last connection went to (targets are service names), when
    /// stickiness is on.
    let stickiness: PersistenceTable?
    let bandwidth: BandwidthPool?
    /// The listener's TLS (its `tls` key), read at this generation's start.
    let tls: NIOSSLContext?
    let perCore: [NIOLoopBoundBox<CoreVServerState?>]
    /// Where waiters served outside a release (a limit published by a monitor or a reload)
    /// are handed to their cores.
    private let dataPlane: DataPlane
    private let pendingWaiters: WaiterUpdate
    /// 0 while the vServer is configured; after a reload removed it, the monotonic time (ns)
    /// at which its remaining connections are closed.
    let drainDeadline = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - reusing: the quota of the previous generation of this vServer, kept (and
    ///     reconfigured) so connections admitted before a reload stay counted.
    ///   - usage: the usage counters of the previous generation, kept so the task's counts go on.
    init(config: VServerConfig, dataPlane: DataPlane, reusing previousQuota: VServerQuota?,
         usage previousUsage: TaskUsage? = nil, services: [ServiceRuntime]) throws {
        let loops = dataPlane.loops
        // First: a file that fails here must leave the previous quota as it was.
        tls = try config.tls?.serverContext()
        self.dataPlane = dataPlane
        self.config = config
        id = VServerID(config.name)
        self.services = services
        let capacities = try ServiceCapacities(services.map {
            ServiceCapacities.Service(name: $0.config.name, capacity: $0.config.capacity, isUp: $0.isUp)
        })
        self.capacities = Mutex(capacities)
        let pool = config.spillover.poolConfig(cores: loops.count, dynamicLimit: capacities.limit)
        if let previousQuota, previousQuota.queuePolicy == config.spillover.queuePolicy, previousQuota.cores == loops.count {
            // A larger limit may serve waiting connections: `deliverServedWaiters` hands them
            // over once the runtime is complete.
            pendingWaiters = try previousQuota.reconfigure(pool).waiters
            quota = previousQuota
        } else {
            pendingWaiters = WaiterUpdate()
            quota = try VServerQuota(pool, queue: config.spillover.queuePolicy)
        }
        persistence = config.spillover.persistence.map { PersistenceTable(timeout: $0) }
        stickiness = config.stickiness.map { PersistenceTable(timeout: $0) }
        if config.spillover.kind == .bandwidth, let bytesPerSecond = config.spillover.bytesPerSecond {
            bandwidth = try BandwidthPool(bytesPerSecond: bytesPerSecond, interval: config.spillover.bandwidthInterval,
                                          cores: loops.count, exclusivePercent: config.spillover.exclusivePercent,
                                          batchPercent: config.spillover.batchPercent)
        } else {
            bandwidth = nil
        }
        usage = previousUsage ?? TaskUsage(name: "vserver/\(config.name)", task: config.task, kind: .vserver,
                                           cellLoops: Array(loops.indices))
        perCore = loops.map { NIOLoopBoundBox.makeEmptyBox(valueType: CoreVServerState.self, eventLoop: $0) }
    }

    /// Whether any service is up.
    var anyServiceUp: Bool { services.contains { $0.isUp } }

    /// The session-store tables of this vServer, by table name: its spillover pins under its
    /// name, its stickiness under `NAME/services` (a vServer name has no '/').
    var sharedTables: [(String, PersistenceTable)] {
        [persistence.map { (config.name, $0) }, stickiness.map { (config.name + "/services", $0) }].compactMap { $0 }
    }

    /// The state of `core`, created on first use. Call on that core's loop only.
    func coreState(_ core: Int) -> CoreVServerState {
        if let state = perCore[core].value { return state }
        let state = CoreVServerState(vServer: self, loop: perCore[core].eventLoop, core: core)
        perCore[core].value = state
        return state
    }

    /// Records a health verdict; with a dynamic limit, publishes the new limit to every core.
    /// Returns the limit in force afterwards.
    @discardableResult
    func setService(_ index: Int, up: Bool) -> Int {
        services[index].setUp(up)
        let (limit, served) = capacities.withLock { capacities in
            _ = try? capacities.setUp(services[index].config.name, up)
            var served = WaiterUpdate()
            if config.spillover.kind != .connection, let update = try? quota.apply(capacities) {
                served = update.waiters
            }
            return (quota.sizing.limit, served)
        }
        if !served.isEmpty { dataPlane.deliver(served, of: self) }
        return limit
    }

    /// Hands the waiters a reload's larger limit served to their cores (call once the new
    /// runtime is in the routing table).
    func deliverServedWaiters() {
        if !pendingWaiters.isEmpty { dataPlane.deliver(pendingWaiters, of: self) }
    }

    var isRetired: Bool { drainDeadline.load(ordering: .relaxed) != 0 }
}

/// One core's view of a vServer: its balancer, a reusable client bootstrap and its bandwidth
/// meter. Loop-bound.
final class CoreVServerState {
    var balancer: Balancer
    let bootstrap: ClientBootstrap
    var meter: BandwidthMeter?
    /// The bandwidth interval in which the meter last denied bytes (-1: none).
    var deniedEpoch = -1

    init(vServer: VServerRuntime, loop: any EventLoop, core: Int) {
        balancer = Balancer(method: vServer.config.method, weights: vServer.services.map(\.config.weight))
        let connectTimeout = TimeAmount.nanoseconds(vServer.config.connectTimeout.totalNanoseconds)
        bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.autoRead, value: false)
        meter = vServer.bandwidth?.meter(core: core)
    }

    /// Counts relayed bytes against the bandwidth budget (nothing is held back: a budget used
    /// up only sends new connections down the backup chain until the next interval).
    func consumeBandwidth(_ bytes: Int, now: Duration) {
        guard var meter else { return }
        if meter.consume(bytes, now: now) < bytes { deniedEpoch = meter.pool.epoch(at: now) }
        self.meter = meter
    }

    /// Whether the bandwidth budget of the current interval is used up.
    func bandwidthExhausted(now: Duration) -> Bool {
        guard let meter, deniedEpoch >= 0 else { return false }
        return meter.pool.epoch(at: now) == deniedEpoch
    }
}

/// The clients a primary vServer sent to a backup (TMSCore's `SpilloverPersistence`), or, for
/// stickiness, the service each client's last connection went to (the target names a
/// service); shared by every core: a client's next connection may arrive on any core.
final class PersistenceTable: Sendable {
    private let pins: Locked<SpilloverPersistence>
    /// Pins this process made, for the session store (only while one is configured).
    let outbox = Locked<[(client: String, target: String, expires: Duration)]>([])
    let shared = Atomic<Bool>(false)
    /// Pins made or moved to another target (the session store's writes, counted whether or
    /// not a session store is configured: its usage task).
    let writes = Atomic<Int>(0)

    /// How long a pin lasts.
    let timeout: Duration

    init(timeout: Duration) {
        self.timeout = timeout
        pins = Locked(SpilloverPersistence(timeout: timeout))
    }

    /// When the store's copy of each pin this process wrote expires (while shared).
    private let written = Locked<[String: Duration]>([:])

    /// A pin this process made or renewed: for the session store too, when it changed or
    /// the store's copy has less than half its timeout left.
    func recorded(client: String, target: VServerID, now: Duration, changed: Bool = true) {
        if changed { writes.wrappingAdd(1, ordering: .relaxed) }
        guard shared.load(ordering: .relaxed) else { return }
        let expires = now + timeout
        let due = written.withLock { written -> Bool in
            if !changed, let stored = written[client], stored - now >= timeout / 2 { return false }
            written[client] = expires
            return true
        }
        guard due else { return }
        outbox.withLock { outbox in
            if outbox.count < 100_000 { outbox.append((client, target.name, expires)) }
        }
    }

    /// Drops expired pins (and what was written of them).
    func removeExpired(now: Duration) {
        pins.withLock { _ = $0.removeExpired(now: now) }
        if shared.load(ordering: .relaxed) { written.withLock { $0 = $0.filter { now < $0.value } } }
    }

    /// Pins held now (expired ones until the next sweep).
    var count: Int { pins.withLock { $0.count } }

    func withLock<T>(_ body: (inout SpilloverPersistence) -> T) -> T {
        pins.withLock { body(&$0) }
    }
}
