extension PolicySet {
    /// The placement request for one more CVM of `task` (or for moving CVM `moving`), built
    /// from the task rule, its tier, its image and what `inventory` holds now.
    ///
    /// Tier usage and cluster members count the healthy CVMs in the inventory, except
    /// `moving` (a migration neither adds to the tier nor keeps its old spot). Nil when the
    /// task or its tier is not in the policy.
    public func placementRequest(
        for task: String, in inventory: HostInventory, moving: String? = nil,
        excluding excluded: [String: PlacementExclusion] = [:], onlyHosts: Set<String>? = nil
    ) -> PlacementRequest? {
        guard let rule = tasks[task], let tier = tiers[rule.tier] else { return nil }
        var tierUsage = ResourceAmount.zero
        var members: [String: Int] = [:]
        for cvm in inventory.cvms where cvm.phase.isHealthy && cvm.id != moving {
            if cvm.task == task { members[cvm.host, default: 0] += 1 }
            if tasks[cvm.task]?.tier == tier.name { tierUsage += cvm.footprint }
        }
        return PlacementRequest(
            task: task, tier: tier, tierUsage: tierUsage,
            hypervisors: images[rule.image]?.hypervisors ?? .all,
            vcpus: rule.vcpus, memoryMiB: rule.memoryMiB, profile: rule.profile,
            servedServers: rule.serves.compactMap { servers[$0]?.coordinate },
            clusterMembers: members, preferredHosts: rule.preferredHosts,
            excludedHosts: excluded, onlyHosts: onlyHosts)
    }
}
