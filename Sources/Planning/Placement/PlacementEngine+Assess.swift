extension PlacementEngine {
    // Kept out of line: inlined into decideAll it measured slower (the loop spills registers).

    /// Runs every filter and, for survivors, every score term over all hosts.
    ///
    /// `allowed[i]`: host i is among the tier's hosts. `members[i]`: cluster members already on
    /// host i (empty: none anywhere). This is the hot loop of placement: no dictionary lookups
    /// or allocations per candidate.
    @inline(never)
    func assess(
        _ request: PlacementRequest, in inventory: HostInventory, allowed: [Bool], members: [Int32],
        policyCommit: String
    ) -> PlacementDecision {
        let hostCount = inventory.hosts.count
        var excluded: [(index: Int, reason: PlacementExclusion)] = request.excludedHosts.compactMap { host, reason in
            inventory.index(of: host).map { ($0, reason) }
        }
        excluded.sort { $0.index < $1.index }
        var requested: [Bool] = []
        if let only = request.onlyHosts {
            requested = inventory.hostNames.map { only.contains($0) }
        }
        var preferred: [Bool] = []
        for host in request.preferredHosts {
            guard let i = inventory.index(of: host) else { continue }
            if preferred.isEmpty { preferred = Array(repeating: false, count: hostCount) }
            preferred[i] = true
        }
        let servers = request.servedServers.map(GeoUnitVector.init)
        let filters = CandidateFilters(request: request, tierShortfall: Self.tierShortfall(request))

        var assessments: [CandidateAssessment] = []
        assessments.reserveCapacity(hostCount)
        var bestIndex = -1
        var bestTotal = -Double.infinity
        var nextExcluded = 0
        for i in 0..<hostCount {
            let index = Int32(truncatingIfNeeded: i)
            if nextExcluded < excluded.count, excluded[nextExcluded].index == i {
                assessments.append(CandidateAssessment(hostIndex: index, verdict: .rejected(.excluded(excluded[nextExcluded].reason))))
                nextExcluded += 1
                continue
            }
            if !requested.isEmpty, !requested[i] {
                assessments.append(CandidateAssessment(hostIndex: index, verdict: .rejected(.excluded(.notRequested))))
                continue
            }
            if let rejection = filters.firstFailure(inventory.hosts[i], allowed: allowed[i]) {
                assessments.append(CandidateAssessment(hostIndex: index, verdict: .rejected(rejection)))
                continue
            }
            let (total, breakdown) = score(
                host: inventory.hosts[i], vector: inventory.unitVectors[i], request: request, servers: servers,
                members: members.isEmpty ? 0 : members[i], preferred: !preferred.isEmpty && preferred[i])
            if total > bestTotal {
                bestTotal = total
                bestIndex = i
            }
            assessments.append(CandidateAssessment(hostIndex: index, verdict: .scored(breakdown)))
        }
        let explanation = PlacementExplanation(
            task: request.task, tier: request.tier.name, vcpus: request.vcpus, memoryMiB: request.memoryMiB,
            policyCommit: policyCommit, weights: weights, hostNames: inventory.hostNames, assessments: assessments,
            chosenIndex: bestIndex < 0 ? nil : Int32(bestIndex))
        return PlacementDecision(explanation: explanation)
    }

    /// The policy filters, in order, with what they need from the request hoisted out of the
    /// per-candidate loop.
    struct CandidateFilters {
        let security: SecurityRequirement
        let hypervisors: HypervisorSet
        let latencyLimitMs: Double
        let costCeiling: Double
        let tierShortfall: PlacementRejection?
        let footprint: ResourceAmount

        init(request: PlacementRequest, tierShortfall: PlacementRejection?) {
            security = request.tier.security
            hypervisors = request.hypervisors
            latencyLimitMs = request.tier.latencyLimitMs ?? .infinity
            costCeiling = request.tier.costCeilingPerHour ?? .infinity
            self.tierShortfall = tierShortfall
            footprint = request.footprint
        }

        /// The first filter `host` fails, or nil if it passes them all.
        @inline(__always)
        func firstFailure(_ host: HostSnapshot, allowed: Bool) -> PlacementRejection? {
            if !allowed { return .notAllowedByTier }
            if !security.allows(host.trust) { return .security(required: security, trust: host.trust) }
            if host.hypervisors.isDisjoint(with: hypervisors) {
                return .hypervisor(required: hypervisors, offered: host.hypervisors)
            }
            if host.latencyMs > latencyLimitMs {
                return .latency(limitMs: Float(latencyLimitMs), measuredMs: Float(host.latencyMs))
            }
            if host.costPerHour > costCeiling {
                return .cost(ceilingPerHour: Float(costCeiling), costPerHour: Float(host.costPerHour))
            }
            if let tierShortfall { return tierShortfall }
            let free = host.capacity - host.used
            if footprint.vcpus > free.vcpus {
                return .hostCapacity(.vcpus, needed: Float(footprint.vcpus), free: Float(free.vcpus))
            }
            if footprint.memoryMiB > free.memoryMiB {
                return .hostCapacity(.memoryMiB, needed: Float(footprint.memoryMiB), free: Float(free.memoryMiB))
            }
            if footprint.cvms > free.cvms {
                return .hostCapacity(.cvms, needed: Float(footprint.cvms), free: Float(free.cvms))
            }
            return nil
        }
    }

    /// The tier capacity rejection every candidate gets when the tier is full, else nil.
    static func tierShortfall(_ request: PlacementRequest) -> PlacementRejection? {
        let limits = request.tier.capacity
        let used = request.tierUsage
        let need = request.footprint
        if let max = limits.maxVCPUs, used.vcpus + need.vcpus > max {
            return .tierCapacity(.vcpus, needed: Float(need.vcpus), free: Float(max - used.vcpus))
        }
        if let max = limits.maxMemoryMiB, used.memoryMiB + need.memoryMiB > max {
            return .tierCapacity(.memoryMiB, needed: Float(need.memoryMiB), free: Float(max - used.memoryMiB))
        }
        if let max = limits.maxCVMs, used.cvms + need.cvms > max {
            return .tierCapacity(.cvms, needed: Float(need.cvms), free: Float(max - used.cvms))
        }
        return nil
    }
}
