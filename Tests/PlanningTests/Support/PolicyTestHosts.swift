@testable import Planning

/// Builders for hosts and tiers with just the attributes a test cares about.
enum PolicyTestHosts {
    static let tms = GeoCoordinate(latitude: 48.85, longitude: 2.35)

    static func host(
        _ name: String, trust: HostTrust = .privateCloud, vcpus: Int = 16, memoryMiB: Int = 32768, cvms: Int = 8,
        used: ResourceAmount = .zero, cost: Double = 0.1, latencyMs: Double = 1, hypervisors: HypervisorSet = .all,
        cpuSpeed: Double = 1, load: Double = 0.2, at coordinate: GeoCoordinate = tms, zone: String = "z"
    ) -> HostSnapshot {
        HostSnapshot(
            name: name, zone: zone, coordinate: coordinate, trust: trust,
            capacity: ResourceAmount(vcpus: vcpus, memoryMiB: memoryMiB, cvms: cvms), used: used,
            costPerHour: cost, latencyMs: latencyMs, hypervisors: hypervisors, cpuSpeed: cpuSpeed, load: load)
    }

    static func tier(
        _ name: String = "t", security: SecurityRequirement = .publicAllowed, hosts: [String],
        latencyLimitMs: Double? = nil, costCeilingPerHour: Double? = nil, capacity: TierCapacity = .unlimited
    ) -> TierPolicy {
        TierPolicy(
            name: name, security: security, latencyLimitMs: latencyLimitMs, costCeilingPerHour: costCeilingPerHour,
            capacity: capacity, allowedHosts: hosts)
    }

    static func request(
        _ tier: TierPolicy, task: String = "task", vcpus: Int = 2, memoryMiB: Int = 1024, cpuShare: Double = 0.5,
        hypervisors: HypervisorSet = .all, servers: [GeoCoordinate] = [], members: [String: Int] = [:],
        preferred: [String] = [], excluded: [String: PlacementExclusion] = [:], tierUsage: ResourceAmount = .zero,
        only: Set<String>? = nil
    ) -> PlacementRequest {
        PlacementRequest(
            task: task, tier: tier, tierUsage: tierUsage, hypervisors: hypervisors, vcpus: vcpus, memoryMiB: memoryMiB,
            profile: UsageProfile(cpuShare: cpuShare), servedServers: servers, clusterMembers: members,
            preferredHosts: preferred, excludedHosts: excluded, onlyHosts: only)
    }
}
