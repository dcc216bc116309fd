/// Chooses a host for a CVM: filters first, then a weighted score; deterministic (hosts are
/// visited in name order and a tie keeps the first, so ties go to the smallest name).
///
/// Pure: it reads an inventory and returns a decision with its full explanation. Only
/// ``decideAll(_:in:policyCommit:)`` changes the inventory, reserving what it placed so the
/// next request sees it.
public struct PlacementEngine: Sendable {
    public var weights: PlacementWeights

    public init(weights: PlacementWeights = .standard) {
        self.weights = weights
    }

    /// Places one CVM.
    public func decide(_ request: PlacementRequest, in inventory: HostInventory, policyCommit: String) -> PlacementDecision {
        let allowed = inventory.hostNames.map { request.tier.resolvedHosts.contains($0) }
        var members: [Int32] = []
        if !request.clusterMembers.isEmpty {
            members = Array(repeating: 0, count: inventory.hosts.count)
            for (host, count) in request.clusterMembers {
                if let i = inventory.index(of: host) { members[i] += Int32(clamping: count) }
            }
        }
        return assess(request, in: inventory, allowed: allowed, members: members, policyCommit: policyCommit)
    }

    /// Places CVMs one after the other, each seeing the capacity (host and tier) and the cluster
    /// members the previous ones took. Requests for the same tier name must carry the same tier
    /// rules (they come from one policy set).
    public func decideAll(
        _ requests: [PlacementRequest], in inventory: inout HostInventory, policyCommit: String
    ) -> [PlacementDecision] {
        var allowedByTier: [String: [Bool]] = [:]
        var membersByTask: [String: [Int32]] = [:]
        var placedByTier: [String: ResourceAmount] = [:]
        var decisions: [PlacementDecision] = []
        decisions.reserveCapacity(requests.count)
        for var request in requests {
            let allowed: [Bool]
            if let cached = allowedByTier[request.tier.name] {
                allowed = cached
            } else {
                allowed = inventory.hostNames.map { request.tier.resolvedHosts.contains($0) }
                allowedByTier[request.tier.name] = allowed
            }
            // Taken out of the dictionary so that counting a new member does not copy it.
            var members = membersByTask.removeValue(forKey: request.task) ?? []
            if members.isEmpty, !request.clusterMembers.isEmpty {
                members = Array(repeating: 0, count: inventory.hosts.count)
                for (host, count) in request.clusterMembers {
                    if let i = inventory.index(of: host) { members[i] += Int32(clamping: count) }
                }
            }
            request.tierUsage += placedByTier[request.tier.name] ?? .zero
            let decision = assess(request, in: inventory, allowed: allowed, members: members, policyCommit: policyCommit)
            if let chosen = decision.explanation.chosenIndex {
                let i = Int(chosen)
                inventory.reserve(request.footprint, on: inventory.hostNames[i])
                placedByTier[request.tier.name, default: .zero] += request.footprint
                if members.isEmpty { members = Array(repeating: 0, count: inventory.hosts.count) }
                members[i] += 1
            }
            if !members.isEmpty { membersByTask[request.task] = members }
            decisions.append(decision)
        }
        return decisions
    }
}
