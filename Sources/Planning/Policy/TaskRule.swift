/// How one TMS task is offloaded into CVMs.
///
/// Thresholds are on *anticipated* usage, per resource: the TMS itself carries up to one
/// threshold's worth of the task and each CVM another; usage beyond that spills into more
/// CVMs (see ``OffloadDecision``). Contract (checked by the loader):
/// `0 <= minCVMs <= maxCVMs`, `1 <= clusterSize <= maxCVMs`, thresholds > 0.
public struct TaskRule: Sendable, Hashable {
    public var name: String
    public var image: String
    public var tier: String
    public var thresholds: [UsageResource: Double]
    public var minCVMs: Int
    public var maxCVMs: Int
    /// Members a cluster of this task needs once it is offloaded at all (1 = no cluster).
    public var clusterSize: Int
    /// Names of the servers (in `servers:`) the task serves.
    public var serves: [String]
    /// Hosts placement favours for this task (a score term, never a filter).
    public var preferredHosts: [String]
    /// vCPUs and memory of each CVM (from the rule, else the image's defaults).
    public var vcpus: Int
    public var memoryMiB: Int
    public var profile: UsageProfile
    /// The resources whose pressure offloading relieves (empty: every resource with a
    /// threshold). A task heavy only on others stays with the traffic manager: offloading a
    /// task heavy on network I/O moves its bytes through the traffic manager all the same,
    /// while one heavy on CPU or disk takes that work away.
    public var offloadWhen: [UsageResource]

    public init(
        name: String, image: String, tier: String, thresholds: [UsageResource: Double] = [:],
        minCVMs: Int = 0, maxCVMs: Int, clusterSize: Int = 1, serves: [String] = [],
        preferredHosts: [String] = [], vcpus: Int, memoryMiB: Int, profile: UsageProfile = .balanced,
        offloadWhen: [UsageResource] = []
    ) {
        self.offloadWhen = offloadWhen
        self.name = name
        self.image = image
        self.tier = tier
        self.thresholds = thresholds
        self.minCVMs = minCVMs
        self.maxCVMs = maxCVMs
        self.clusterSize = clusterSize
        self.serves = serves
        self.preferredHosts = preferredHosts
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.profile = profile
    }
}
