/// A name written in a policy file, with where: a reference to check, or a definition.
struct PolicyReference: Sendable, Hashable {
    var name: String
    /// Key path of the value (`tasks.web-monitor.tier`, `tiers.gold.allowedHosts[0]`).
    var path: String
    var location: PolicyLocation
}

/// Everything read from the policy files before cross-checking: every field optional, so one
/// bad value does not hide the other errors in the same definition.
struct PolicyDraft {
    struct Tier {
        var definition: PolicyReference
        var security: SecurityRequirement?
        var latencyLimitMs: Double?
        var costCeilingPerHour: Double?
        var capacity = TierCapacity()
        var allowedClouds: [PolicyReference] = []
        var allowedHosts: [PolicyReference] = []
        /// An allow list failed to read; "allows no host" would only repeat that error.
        var incomplete = false
    }

    struct Cloud {
        var definition: PolicyReference
        var trust: HostTrust?
        var hosts: [PolicyReference] = []
        /// The host list failed to read: host membership checks would only repeat that error.
        var incomplete = false
    }

    struct Server {
        var definition: PolicyReference
        var zone: String?
        var latitude: Double?
        var longitude: Double?
    }

    struct Task {
        var definition: PolicyReference
        var image: PolicyReference?
        var tier: PolicyReference?
        var thresholds: [UsageResource: Double] = [:]
        var minCVMs: Int?
        var maxCVMs: Int?
        var clusterSize: Int?
        var clusterSizeLocation: PolicyLocation?
        var serves: [PolicyReference] = []
        var preferredHosts: [PolicyReference] = []
        var vcpus: Int?
        var memoryMiB: Int?
        var cpuShare: Double?
        var offloadWhen: [UsageResource] = []
        /// Some field failed to read; skip checks that would only repeat that error.
        var incomplete = false
    }

    var tiers: [String: Tier] = [:]
    var clouds: [String: Cloud] = [:]
    var servers: [String: Server] = [:]
    var tasks: [String: Task] = [:]
    var elastic = ElasticSettings()
    var elasticDefinition: PolicyReference?
    var placementWeights = PlacementWeights.standard
    var placementDefinition: PolicyReference?
    var sources = PolicySourceMap()
}
