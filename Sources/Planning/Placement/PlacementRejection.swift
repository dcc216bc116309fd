/// The filters, in the order they are applied; a rejected candidate records the first one it
/// failed.
public enum PlacementFilter: String, Sendable, Hashable, CaseIterable {
    case excluded
    case allowedHosts = "allowed hosts"
    case security
    case hypervisor
    case latency
    case cost
    case tierCapacity = "tier capacity"
    case hostCapacity = "capacity"
}

/// Why a candidate host was rejected, with the numbers that decided it.
///
/// Numbers are `Float`: an explanation keeps one per candidate per decision, and seven
/// significant digits are plenty to explain a decision.
public enum PlacementRejection: Sendable, Hashable {
    case excluded(PlacementExclusion)
    /// The host is not among the hosts the tier allows.
    case notAllowedByTier
    case security(required: SecurityRequirement, trust: HostTrust)
    case hypervisor(required: HypervisorSet, offered: HypervisorSet)
    case latency(limitMs: Float, measuredMs: Float)
    case cost(ceilingPerHour: Float, costPerHour: Float)
    /// The tier's own capacity limit (all its CVMs together) would be exceeded.
    case tierCapacity(CapacityResource, needed: Float, free: Float)
    /// The host's capacity would be exceeded.
    case hostCapacity(CapacityResource, needed: Float, free: Float)

    public var filter: PlacementFilter {
        switch self {
        case .excluded: .excluded
        case .notAllowedByTier: .allowedHosts
        case .security: .security
        case .hypervisor: .hypervisor
        case .latency: .latency
        case .cost: .cost
        case .tierCapacity: .tierCapacity
        case .hostCapacity: .hostCapacity
        }
    }
}
