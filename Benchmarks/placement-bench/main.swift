// placement-bench: plan 10,000 CVMs onto 1,000 hosts with full explanations kept, and print
// the time and decisions per second next to a reference measured in the same run: a bare
// first-fit pass over the same hosts (capacity only: no policy filters, no scores, nothing
// kept). Deterministic inputs (seeded generator), single thread.
//
//     swift run -c release placement-bench [cvms] [hosts] [repetitions]
import Planning

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: a fixed sequence from a seed, so every run places the same CVMs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The reference: first fit on capacity alone, nothing explained.
func firstFit(_ requests: [PlacementRequest], _ hosts: [HostSnapshot]) -> Int {
    var used = hosts.map(\.used)
    var placed = 0
    for request in requests {
        let need = request.footprint
        for i in hosts.indices where (used[i] + need).fits(within: hosts[i].capacity) {
            used[i] += need
            placed += 1
            break
        }
    }
    return placed
}

func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = (x * scale).rounded() / scale
    return digits == 0 ? String(Int(v)) : String(v)
}

/// Everything in a function: top-level variables are main-actor globals, and touching them in
/// a hot loop would measure isolation checks instead of placement.
func benchmark() {
    let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
    let cvmCount = arguments.count > 0 ? arguments[0] : 10_000
    let hostCount = arguments.count > 1 ? arguments[1] : 1_000
    let repetitions = arguments.count > 2 ? arguments[2] : 5

    var rng = SeededGenerator(state: 42)

    // 1,000 hosts: a few local hypervisors, private datacentres and public cloud regions
    // around Europe and North America.
    let regions = [(48.86, 2.35), (50.11, 8.68), (51.51, -0.13), (52.37, 4.90), (40.71, -74.0), (37.77, -122.42), (45.50, -73.57)]
    var hosts: [HostSnapshot] = []
    var localHosts: [String] = [], privateHosts: [String] = [], publicHosts: [String] = []
    for i in 0..<hostCount {
        let name = "host-\(String(i + 10000).dropFirst())"
        let trust: HostTrust = i % 100 == 0 ? .local : (i % 5 < 2 ? .privateCloud : .publicCloud)
        switch trust {
        case .local: localHosts.append(name)
        case .privateCloud: privateHosts.append(name)
        case .publicCloud: publicHosts.append(name)
        }
        let region = regions[Int.random(in: 0..<regions.count, using: &rng)]
        let vcpus = [16, 32, 64, 128].randomElement(using: &rng)!
        hosts.append(HostSnapshot(
            name: name, zone: "zone-\(i % 17)",
            coordinate: GeoCoordinate(latitude: region.0 + Double.random(in: -2...2, using: &rng),
                                      longitude: region.1 + Double.random(in: -2...2, using: &rng)),
            trust: trust,
            capacity: ResourceAmount(vcpus: vcpus, memoryMiB: vcpus * 4096, cvms: vcpus / 2),
            used: ResourceAmount(vcpus: Int.random(in: 0...vcpus / 4, using: &rng), memoryMiB: 0, cvms: 0),
            costPerHour: trust == .local ? 0 : Double.random(in: 0.05...2, using: &rng),
            latencyMs: trust == .local ? 0.1 : Double.random(in: 0.5...80, using: &rng),
            hypervisors: Int.random(in: 0..<5, using: &rng) == 0 ? .qemu : [.qemu, .kvm],
            cpuSpeed: Double.random(in: 0.8...2.0, using: &rng),
            load: Double.random(in: 0...0.9, using: &rng)))
    }

    // Four tiers with different security, limits and allowed hosts.
    let tiers = [
        TierPolicy(name: "confidential", security: .localOnly, capacity: TierCapacity(maxCVMs: 400),
                   allowedHosts: localHosts, resolvedHosts: Set(localHosts)),
        TierPolicy(name: "standard", security: .privateOnly, latencyLimitMs: 20, costCeilingPerHour: 1.2,
                   allowedHosts: localHosts + privateHosts, resolvedHosts: Set(localHosts + privateHosts)),
        TierPolicy(name: "elastic", security: .publicAllowed, latencyLimitMs: 60, costCeilingPerHour: 1.5,
                   allowedHosts: hosts.map(\.name), resolvedHosts: Set(hosts.map(\.name))),
        TierPolicy(name: "burst", security: .publicAllowed, capacity: TierCapacity(maxVCPUs: 8000),
                   allowedHosts: publicHosts, resolvedHosts: Set(publicHosts)),
    ]

    // 100 tasks, 100 CVMs each (a cluster per task, spread by the score): 2 confidential,
    // 20 burst, the rest standard and elastic.
    let taskCount = 100
    var requests: [PlacementRequest] = []
    requests.reserveCapacity(cvmCount)
    let tasks = (0..<taskCount).map { t in
        let servers = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
            let r = regions[Int.random(in: 0..<regions.count, using: &rng)]
            return GeoCoordinate(latitude: r.0, longitude: r.1)
        }
        return PlacementRequest(
            task: "task-\(t)", tier: tiers[t % 50 == 0 ? 0 : t % 5 == 1 ? 3 : t % 2 == 0 ? 1 : 2],
            hypervisors: t % 7 == 0 ? .kvm : .all,
            vcpus: [1, 1, 2, 2, 4].randomElement(using: &rng)!, memoryMiB: [512, 1024, 2048, 4096].randomElement(using: &rng)!,
            profile: UsageProfile(cpuShare: Double.random(in: 0...1, using: &rng)), servedServers: servers,
            preferredHosts: t % 10 == 0 ? [hosts[t].name] : [])
    }
    for i in 0..<cvmCount {
        requests.append(tasks[i % taskCount])
    }

    let engine = PlacementEngine()
    let clock = ContinuousClock()
    var times: [Double] = []
    var referenceTimes: [Double] = []
    var kept: [PlacementDecision] = []
    var referencePlaced = 0

    for _ in 0..<repetitions {
        kept = []  // free the previous run's explanations outside the timed part
        var inventory = HostInventory(hosts: hosts)
        let start = clock.now
        let decisions = engine.decideAll(requests, in: &inventory, policyCommit: "bench")
        times.append(seconds(clock.now - start))
        kept = decisions

        let referenceStart = clock.now
        referencePlaced = firstFit(requests, hosts)
        referenceTimes.append(seconds(clock.now - referenceStart))
    }

    let placed = kept.count { $0.host != nil }
    let candidates = kept.reduce(0) { $0 + $1.explanation.assessments.count }
    let scored = kept.reduce(0) { $0 + $1.explanation.assessments.count { $0.score != nil } }
    let explanationBytes = candidates * MemoryLayout<CandidateAssessment>.stride
    let best = times.min()!, median = times.sorted()[times.count / 2]
    let referenceBest = referenceTimes.min()!

    print("placement-bench: \(cvmCount) CVMs onto \(hostCount) hosts, \(taskCount) tasks in \(tiers.count) tiers, explanations kept")
    print("  placed \(placed), unplaceable \(kept.count - placed) (every candidate rejected; see their explanations)")
    print("  explanations: \(candidates) candidate verdicts (\(scored) scored), \(fixed(Double(explanationBytes) / 1_048_576, 1)) MiB")
    print("  time:      best \(fixed(best * 1000, 1)) ms, median \(fixed(median * 1000, 1)) ms of \(repetitions) runs")
    print("  decisions: \(fixed(Double(cvmCount) / best, 0))/s (best), \(fixed(best / Double(candidates) * 1e9, 1)) ns per candidate verdict")
    print("  reference: first fit on capacity only, nothing kept: best \(fixed(referenceBest * 1000, 1)) ms (placed \(referencePlaced))")
    print("  ratio:     \(fixed(best / referenceBest, 1))× the bare first-fit pass; goal < 1 s: \(best < 1 ? "met" : "NOT met")")
}

benchmark()
