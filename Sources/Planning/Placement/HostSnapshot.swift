/// What placement knows about one hypervisor host at one moment.
///
/// The orchestrator fills it from the host registry (name, zone, coordinates, trust, capacity,
/// cost, hypervisor kinds, CPU speed) and from measurement (used capacity, load, latency to
/// the TMS). Placement never mutates a snapshot except to reserve what it just placed.
public struct HostSnapshot: Sendable, Hashable {
    public var name: String
    public var zone: String
    public var coordinate: GeoCoordinate
    public var trust: HostTrust
    /// What the host may carry in total.
    public var capacity: ResourceAmount
    /// What CVMs on the host take now (including CVMs being deployed or migrated in).
    public var used: ResourceAmount
    public var costPerHour: Double
    /// Measured round-trip latency to the TMS in milliseconds (0 for the TMS's own host).
    public var latencyMs: Double
    public var hypervisors: HypervisorSet
    /// CPU speed relative to the TMS's own host (1 = as fast, 1.5 = 50 % faster).
    public var cpuSpeed: Double
    /// CPU load, 0 (idle) ... 1 (saturated).
    public var load: Double

    public init(
        name: String, zone: String, coordinate: GeoCoordinate, trust: HostTrust,
        capacity: ResourceAmount, used: ResourceAmount = .zero, costPerHour: Double = 0,
        latencyMs: Double = 0, hypervisors: HypervisorSet = .all, cpuSpeed: Double = 1, load: Double = 0
    ) {
        self.name = name
        self.zone = zone
        self.coordinate = coordinate
        self.trust = trust
        self.capacity = capacity
        self.used = used
        self.costPerHour = costPerHour
        self.latencyMs = latencyMs
        self.hypervisors = hypervisors
        self.cpuSpeed = cpuSpeed
        self.load = load
    }

    /// Capacity minus use (may be negative when a host was over-committed by hand).
    public var free: ResourceAmount { capacity - used }
}
