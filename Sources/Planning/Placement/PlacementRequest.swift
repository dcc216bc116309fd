/// Why a host was taken out of consideration by the caller rather than by a policy filter.
public enum PlacementExclusion: String, Sendable, Hashable {
    /// The CVM being migrated is on this host already.
    case currentHost = "the CVM is on this host already"
    /// A CVM of this task failed on this host; its replacement goes elsewhere.
    case failedHere = "a CVM of this task failed here"
    /// The caller asked for other hosts only (bringing a CVM back to the local host).
    case notRequested = "not among the hosts asked for"
}

/// One CVM to place: what it needs, what its tier allows, and what its task prefers.
public struct PlacementRequest: Sendable, Hashable {
    public var task: String
    /// The tier's rules: security, allowed hosts, latency limit, cost ceiling, capacity limits.
    public var tier: TierPolicy
    /// What the tier's CVMs take now, on all hosts together (for the tier's capacity limits).
    public var tierUsage: ResourceAmount
    /// Hypervisor kinds the task's image runs on.
    public var hypervisors: HypervisorSet
    public var vcpus: Int
    public var memoryMiB: Int
    public var profile: UsageProfile
    /// Where the servers the task serves are.
    public var servedServers: [GeoCoordinate]
    /// Hosts already holding members of the task's cluster, with how many.
    public var clusterMembers: [String: Int]
    public var preferredHosts: [String]
    /// Hosts not to consider, and why.
    public var excludedHosts: [String: PlacementExclusion]
    /// When set, only these hosts are considered (the others are excluded as not requested).
    public var onlyHosts: Set<String>?

    public init(
        task: String, tier: TierPolicy, tierUsage: ResourceAmount = .zero, hypervisors: HypervisorSet = .all,
        vcpus: Int, memoryMiB: Int, profile: UsageProfile = .balanced, servedServers: [GeoCoordinate] = [],
        clusterMembers: [String: Int] = [:], preferredHosts: [String] = [],
        excludedHosts: [String: PlacementExclusion] = [:], onlyHosts: Set<String>? = nil
    ) {
        self.task = task
        self.tier = tier
        self.tierUsage = tierUsage
        self.hypervisors = hypervisors
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.profile = profile
        self.servedServers = servedServers
        self.clusterMembers = clusterMembers
        self.preferredHosts = preferredHosts
        self.excludedHosts = excludedHosts
        self.onlyHosts = onlyHosts
    }

    /// What one CVM of this request takes on a host.
    public var footprint: ResourceAmount { .cvm(vcpus: vcpus, memoryMiB: memoryMiB) }
}
