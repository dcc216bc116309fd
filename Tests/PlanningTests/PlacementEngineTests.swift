import Testing
@testable import Planning

@Suite("PlacementEngine")
struct PlacementEngineTests {
    typealias H = PolicyTestHosts
    let engine = PlacementEngine()

    @Test("each filter rejects with its numbers; the one host that passes them all is chosen")
    func filters() throws {
        let hosts = [
            H.host("a-current"),
            H.host("b-not-allowed"),
            H.host("c-public", trust: .publicCloud),
            H.host("d-qemu-only", hypervisors: .qemu),
            H.host("e-far", latencyMs: 12),
            H.host("f-dear", cost: 0.9),
            H.host("g-full", vcpus: 4, used: ResourceAmount(vcpus: 3, memoryMiB: 0, cvms: 1)),
            H.host("h-no-memory", memoryMiB: 2048, used: ResourceAmount(vcpus: 0, memoryMiB: 1536, cvms: 1)),
            H.host("i-no-slot", cvms: 2, used: ResourceAmount(vcpus: 0, memoryMiB: 0, cvms: 2)),
            H.host("j-good"),
        ]
        let tier = H.tier(security: .privateOnly, hosts: hosts.map(\.name).filter { $0 != "b-not-allowed" },
                          latencyLimitMs: 5, costCeilingPerHour: 0.5)
        let request = H.request(tier, hypervisors: .kvm, excluded: ["a-current": .currentHost])
        let decision = engine.decide(request, in: HostInventory(hosts: hosts), policyCommit: "c0ffee")
        let e = decision.explanation
        #expect(decision.host == "j-good")
        #expect(e.verdict(for: "a-current") == .rejected(.excluded(.currentHost)))
        #expect(e.verdict(for: "b-not-allowed") == .rejected(.notAllowedByTier))
        #expect(e.verdict(for: "c-public") == .rejected(.security(required: .privateOnly, trust: .publicCloud)))
        #expect(e.verdict(for: "d-qemu-only") == .rejected(.hypervisor(required: .kvm, offered: .qemu)))
        #expect(e.verdict(for: "e-far") == .rejected(.latency(limitMs: 5, measuredMs: 12)))
        #expect(e.verdict(for: "f-dear") == .rejected(.cost(ceilingPerHour: 0.5, costPerHour: 0.9)))
        #expect(e.verdict(for: "g-full") == .rejected(.hostCapacity(.vcpus, needed: 2, free: 1)))
        #expect(e.verdict(for: "h-no-memory") == .rejected(.hostCapacity(.memoryMiB, needed: 1024, free: 512)))
        #expect(e.verdict(for: "i-no-slot") == .rejected(.hostCapacity(.cvms, needed: 1, free: 0)))
        #expect(e.policyCommit == "c0ffee")
    }

    @Test("a full tier rejects every otherwise fitting host, naming the tier's remaining capacity")
    func tierCapacity() {
        let hosts = [H.host("a"), H.host("b", trust: .publicCloud)]
        let tier = H.tier(security: .privateOnly, hosts: ["a", "b"], capacity: TierCapacity(maxVCPUs: 8))
        let decision = engine.decide(
            H.request(tier, vcpus: 2, tierUsage: ResourceAmount(vcpus: 7, memoryMiB: 0, cvms: 3)),
            in: HostInventory(hosts: hosts), policyCommit: "c")
        #expect(decision.host == nil)
        #expect(decision.explanation.verdict(for: "a") == .rejected(.tierCapacity(.vcpus, needed: 2, free: 1)))
        // Filters apply in order: security comes first for b.
        #expect(decision.explanation.verdict(for: "b") == .rejected(.security(required: .privateOnly, trust: .publicCloud)))
    }

    @Test("score terms: free capacity after placing, load, cost against the ceiling, preference")
    func scoreTerms() throws {
        let host = H.host("a", vcpus: 8, memoryMiB: 8192, cvms: 4, used: ResourceAmount(vcpus: 2, memoryMiB: 1024, cvms: 1),
                          cost: 0.25, latencyMs: 0, load: 0.4)
        let tier = H.tier(hosts: ["a"], costCeilingPerHour: 1)
        let score = try #require(engine.decide(H.request(tier, vcpus: 2, memoryMiB: 1024, cpuShare: 1, preferred: ["a"]),
                                               in: HostInventory(hosts: [host]), policyCommit: "c").score)
        // Terms are kept to 1/65535.
        #expect(abs(score.capacity - 0.5) < 1e-4)        // vCPUs: (8 - 2 - 2) / 8; memory 0.75; slots 0.5
        #expect(abs(score.load - 0.6) < 1e-4)
        #expect(abs(score.cost - 0.75) < 1e-4)           // 1 - 0.25 / 1
        #expect(abs(score.relativeSpeed - 0.6) < 1e-3)   // CPU-bound at 40 % load
        #expect(abs(score.speedTrade - 0.375) < 1e-4)    // 0.6 / 1.6
        #expect(score.spread == 1 && score.preference == 1)
        #expect(score.distance == 1 && score.distanceKm.isNaN)
        let w = PlacementWeights.standard
        let expected = 0.5 * w.capacity + 0.6 * w.load + w.distance + 0.75 * w.cost + 0.375 * w.speedTrade + w.spread + w.preference
        #expect(abs(Double(score.total) - expected) < 1e-5)
    }

    @Test("ties go to the smallest host name, whatever order the hosts come in")
    func tieByName() {
        let hosts = ["m", "c", "x", "a", "k"].map { H.host($0) }
        let tier = H.tier(hosts: hosts.map(\.name))
        for order in [hosts, hosts.reversed(), hosts.shuffled()] {
            let d = engine.decide(H.request(tier), in: HostInventory(hosts: order), policyCommit: "c")
            #expect(d.host == "a")
            #expect(d.explanation.candidates.map(\.host) == ["a", "c", "k", "m", "x"])
        }
    }

    @Test("closer to the served servers wins")
    func distance() {
        let frankfurt = GeoCoordinate(latitude: 50.11, longitude: 8.68)
        let hosts = [H.host("paris"), H.host("frankfurt", at: frankfurt), H.host("madrid", at: GeoCoordinate(latitude: 40.4, longitude: -3.7))]
        let d = engine.decide(H.request(H.tier(hosts: hosts.map(\.name)), servers: [frankfurt]), in: HostInventory(hosts: hosts), policyCommit: "c")
        #expect(d.host == "frankfurt")
        #expect(d.score?.distanceKm == 0)
        let paris = d.explanation.verdict(for: "paris")
        if case let .scored(s) = paris { #expect(abs(s.distanceKm - 479) < 5) } else { Issue.record("paris not scored") }
    }

    @Test("a CPU-bound task takes the faster remote CPU; an I/O-bound one stays near the TMS")
    func speedVersusLatency() {
        let hosts = [
            H.host("local", trust: .local, cost: 0, latencyMs: 0, cpuSpeed: 1, load: 0.2),
            H.host("remote", cost: 0, latencyMs: 20, cpuSpeed: 2, load: 0.2),
        ]
        let inventory = HostInventory(hosts: hosts)
        let tier = H.tier(hosts: ["local", "remote"])
        #expect(engine.decide(H.request(tier, cpuShare: 1), in: inventory, policyCommit: "c").host == "remote")
        #expect(engine.decide(H.request(tier, cpuShare: 0), in: inventory, policyCommit: "c").host == "local")
    }

    @Test("cluster members spread over hosts")
    func spread() {
        let hosts = [H.host("a"), H.host("b"), H.host("c")]
        let tier = H.tier(hosts: ["a", "b", "c"])
        let d = engine.decide(H.request(tier, members: ["a": 1, "b": 1]), in: HostInventory(hosts: hosts), policyCommit: "c")
        #expect(d.host == "c")
        if case let .scored(s) = d.explanation.verdict(for: "a") { #expect(abs(s.spread - 0.5) < 1e-4) } else { Issue.record("a not scored") }
    }

    @Test("onlyHosts restricts the candidates; the others are excluded as not requested")
    func onlyHosts() {
        let hosts = [H.host("a"), H.host("b")]
        let d = engine.decide(H.request(H.tier(hosts: ["a", "b"]), only: ["b"]), in: HostInventory(hosts: hosts), policyCommit: "c")
        #expect(d.host == "b")
        #expect(d.explanation.verdict(for: "a") == .rejected(.excluded(.notRequested)))
    }

    @Test("decideAll reserves what it places: host and tier capacity, and cluster spread")
    func batch() {
        var inventory = HostInventory(hosts: [
            H.host("a", vcpus: 4, cost: 0), H.host("b", vcpus: 4, cost: 0.2), H.host("c", trust: .publicCloud, vcpus: 64),
        ])
        let tier = H.tier(security: .privateOnly, hosts: ["a", "b", "c"], capacity: TierCapacity(maxCVMs: 3))
        let requests = (0..<5).map { _ in H.request(tier, vcpus: 2) }
        let decisions = engine.decideAll(requests, in: &inventory, policyCommit: "c")
        let chosen: [String?] = decisions.map { $0.host }
        #expect(chosen.prefix(3).compactMap { $0 }.count == 3)
        #expect(Set(chosen.prefix(2).compactMap { $0 }) == ["a", "b"])  // spread before packing
        #expect(chosen[3] == nil && chosen[4] == nil)  // tier holds 3 CVMs
        #expect(decisions[3].explanation.verdict(for: "a") == .rejected(.tierCapacity(.cvms, needed: 1, free: 0)))
        #expect(inventory.host(named: "a")!.used.vcpus + inventory.host(named: "b")!.used.vcpus == 6)
        #expect(inventory.host(named: "c")!.used == .zero)
    }

    @Test("the same request on the same inventory gives the same explanation")
    func deterministic() {
        let hosts: [HostSnapshot] = (0..<50).map { (i: Int) -> HostSnapshot in
            let cost = Double(i % 7) / 10, latency = Double(i % 11), speed = 1 + Double(i % 5) / 10, load = Double(i % 9) / 10
            return H.host("h\(i)", trust: HostTrust.allCases[i % 3], cost: cost, latencyMs: latency, cpuSpeed: speed, load: load)
        }
        let tier = H.tier(hosts: hosts.map(\.name))
        let a = engine.decide(H.request(tier, servers: [H.tms]), in: HostInventory(hosts: hosts), policyCommit: "c")
        let b = engine.decide(H.request(tier, servers: [H.tms]), in: HostInventory(hosts: hosts.reversed()), policyCommit: "c")
        #expect(a == b)
    }
}
