import PropertyBased
import Testing
@testable import Planning

/// Invariants of placement under random hosts, tiers and requests: whatever the inputs, a
/// chosen host satisfies every rule of the tier, and capacity is never exceeded.
@Suite("PlacementEngine properties")
struct PlacementEnginePropertyTests {
    static let coordinate = zip(Gen.double(in: -80...80), Gen.double(in: -180...180))
        .map { GeoCoordinate(latitude: $0, longitude: $1) }

    /// A host with random trust, capacity, use (sometimes beyond capacity: registries lie),
    /// cost, latency, hypervisors, speed and load. Named later by position.
    static let amount = zip(Gen.int(in: 0...36), Gen.int(in: 0...70000), Gen.int(in: 0...18))
        .map { ResourceAmount(vcpus: $0.0, memoryMiB: $0.1, cvms: $0.2) }

    static let host = zip(
        Gen.element(of: HostTrust.allCases), amount, amount,
        Gen.double(in: 0...2), Gen.double(in: 0...50), Gen.int(in: 1...3), Gen.double(in: 0...1), coordinate
    ).map { t in
        HostSnapshot(
            name: "", zone: "z", coordinate: t.7, trust: t.0 ?? .local, capacity: t.1, used: t.2,
            costPerHour: t.3, latencyMs: t.4, hypervisors: HypervisorSet(rawValue: UInt8(t.5)),
            cpuSpeed: 0.5 + t.6, load: t.6)
    }

    static let hosts = host.array(of: 1...24).map { list in
        list.enumerated().map { i, h in var h = h; h.name = "h\(i)"; return h }
    }

    /// A tier: security, optional limits, capacity limits, allowed hosts as a bit mask over h0...h23.
    static let tier = zip(
        Gen.element(of: SecurityRequirement.allCases),
        Gen.double(in: 0...50).optional, Gen.double(in: 0...2).optional,
        Gen.int(in: 0...64).optional, Gen.int(in: 0...20).optional,
        Gen.uint32(in: 0...UInt32.max)
    ).map { t in
        TierPolicy(
            name: "tier", security: t.0 ?? .localOnly, latencyLimitMs: t.1, costCeilingPerHour: t.2,
            capacity: TierCapacity(maxVCPUs: t.3, maxCVMs: t.4),
            allowedHosts: (0..<32).filter { t.5 & (1 << UInt32($0)) != 0 }.map { "h\($0)" })
    }

    /// A request with random size, image hypervisors, profile, tier usage and served servers.
    static let request = zip(
        Gen.int(in: 1...8), Gen.int(in: 128...16384), Gen.int(in: 1...3), Gen.double(in: 0...1),
        Gen.int(in: 0...40), Gen.int(in: 0...12), coordinate.array(of: 0...3)
    ).map { t in
        (vcpus: t.0, memoryMiB: t.1, hypervisors: HypervisorSet(rawValue: UInt8(t.2)), cpuShare: t.3,
         tierUsage: ResourceAmount(vcpus: t.4, memoryMiB: 0, cvms: t.5), servers: t.6)
    }

    static func make(_ tier: TierPolicy, _ r: (vcpus: Int, memoryMiB: Int, hypervisors: HypervisorSet, cpuShare: Double, tierUsage: ResourceAmount, servers: [GeoCoordinate])) -> PlacementRequest {
        PlacementRequest(
            task: "task", tier: tier, tierUsage: r.tierUsage, hypervisors: r.hypervisors, vcpus: r.vcpus,
            memoryMiB: r.memoryMiB, profile: UsageProfile(cpuShare: r.cpuShare), servedServers: r.servers)
    }

    /// Every rule of the tier and the host that a chosen host must satisfy.
    static func checkRules(of request: PlacementRequest, on host: HostSnapshot) {
        let tier = request.tier
        #expect(tier.security.allows(host.trust), "security \(tier.security) vs trust \(host.trust)")
        #expect(tier.resolvedHosts.contains(host.name))
        #expect((host.used + request.footprint).fits(within: host.capacity), "host capacity")
        if let max = tier.capacity.maxVCPUs { #expect(request.tierUsage.vcpus + request.vcpus <= max) }
        if let max = tier.capacity.maxCVMs { #expect(request.tierUsage.cvms + 1 <= max) }
        if let limit = tier.latencyLimitMs { #expect(host.latencyMs <= limit) }
        if let ceiling = tier.costCeilingPerHour { #expect(host.costPerHour <= ceiling) }
        #expect(!host.hypervisors.isDisjoint(with: request.hypervisors))
    }

    @Test("a chosen host never violates the tier's security, capacity or other rules")
    func rulesHold() async {
        await propertyCheck(count: 400, input: Self.hosts, Self.tier, Self.request) { hosts, tier, r in
            let request = Self.make(tier, r)
            let inventory = HostInventory(hosts: hosts)
            let decision = PlacementEngine().decide(request, in: inventory, policyCommit: "p")
            if let name = decision.host {
                Self.checkRules(of: request, on: inventory.host(named: name)!)
            }
        }
    }

    @Test("every candidate is explained once; the choice is the best score, or none survived")
    func explanationIsComplete() async {
        await propertyCheck(count: 300, input: Self.hosts, Self.tier, Self.request) { hosts, tier, r in
            let inventory = HostInventory(hosts: hosts)
            let e = PlacementEngine().decide(Self.make(tier, r), in: inventory, policyCommit: "p").explanation
            #expect(e.candidates.map(\.host) == inventory.hostNames)
            let scored = e.assessments.compactMap { a in a.score.map { (a.hostIndex, $0.total) } }
            if let chosen = e.chosenIndex {
                let best = scored.map(\.1).max()!
                #expect(e.assessments[Int(chosen)].score?.total == best)
                // Ties go to the first (smallest) name.
                #expect(scored.first { $0.1 == best }?.0 == chosen)
            } else {
                #expect(scored.isEmpty)
            }
        }
    }

    @Test("placing many in a row never over-fills a host or the tier")
    func batchCapacity() async {
        await propertyCheck(count: 150, input: Self.hosts, Self.tier, Self.request.array(of: 1...40)) { hosts, tier, rs in
            var inventory = HostInventory(hosts: hosts)
            let before = inventory
            let requests = rs.map { Self.make(tier, ($0.vcpus, $0.memoryMiB, $0.hypervisors, $0.cpuShare, .zero, $0.servers)) }
            let decisions = PlacementEngine().decideAll(requests, in: &inventory, policyCommit: "p")
            var placed = ResourceAmount.zero
            for (request, decision) in zip(requests, decisions) where decision.host != nil {
                placed += request.footprint
            }
            for (old, new) in zip(before.hosts, inventory.hosts) where new.used != old.used {
                #expect(new.used.fits(within: new.capacity), "host \(new.name) over-filled")
                #expect(tier.security.allows(new.trust))
            }
            if let max = tier.capacity.maxVCPUs { #expect(placed.vcpus <= max) }
            if let max = tier.capacity.maxCVMs { #expect(placed.cvms <= max) }
        }
    }
}
