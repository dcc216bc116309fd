/// Limits on everything the CVMs of one tier take, together.
///
/// `nil` means unlimited.
public struct TierCapacity: Sendable, Hashable {
    public var maxVCPUs: Int?
    public var maxMemoryMiB: Int?
    public var maxCVMs: Int?

    public init(maxVCPUs: Int? = nil, maxMemoryMiB: Int? = nil, maxCVMs: Int? = nil) {
        self.maxVCPUs = maxVCPUs
        self.maxMemoryMiB = maxMemoryMiB
        self.maxCVMs = maxCVMs
    }

    public static let unlimited = TierCapacity()
}

/// A service tier: where its tasks' CVMs may run and what they may cost, together and each.
public struct TierPolicy: Sendable, Hashable {
    public var name: String
    public var security: SecurityRequirement
    /// Largest acceptable latency between a host and the TMS, in milliseconds.
    public var latencyLimitMs: Double?
    /// Most a host may cost per hour to receive one of this tier's CVMs.
    public var costCeilingPerHour: Double?
    public var capacity: TierCapacity
    /// Clouds (named host groups in `clouds:`) whose hosts the tier may use.
    public var allowedClouds: [String]
    /// Individual hosts the tier may use, in addition to the allowed clouds' hosts.
    public var allowedHosts: [String]
    /// Every host name the tier may use: the allowed clouds' hosts plus `allowedHosts`.
    /// Filled by the loader (and by ``init``).
    public var resolvedHosts: Set<String>

    public init(
        name: String, security: SecurityRequirement, latencyLimitMs: Double? = nil,
        costCeilingPerHour: Double? = nil, capacity: TierCapacity = .unlimited,
        allowedClouds: [String] = [], allowedHosts: [String] = [], resolvedHosts: Set<String>? = nil
    ) {
        self.name = name
        self.security = security
        self.latencyLimitMs = latencyLimitMs
        self.costCeilingPerHour = costCeilingPerHour
        self.capacity = capacity
        self.allowedClouds = allowedClouds
        self.allowedHosts = allowedHosts
        self.resolvedHosts = resolvedHosts ?? Set(allowedHosts)
    }
}
