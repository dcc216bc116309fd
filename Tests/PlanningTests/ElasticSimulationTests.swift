import Testing
@testable import Planning

/// The elastic planner run against synthetic usage traces on a simulated site: does it act
/// at the right moments, and only then?
@Suite("Elastic simulations")
struct ElasticSimulationTests {
    static func policy(
        cooldown: Double = 300, band: Double = 20, horizon: Double = 60, forecast: String = "{method: holt, alpha: 0.3, beta: 0.1}",
        minCVMs: Int = 0, cpuShare: Double = 0.5, vcpus: Int = 1, maxConcurrent: Int = 2, tasks: [String] = ["monitor"]
    ) throws -> PolicySet {
        var text = """
            clouds:
              tms: {trust: local, hosts: [tms-local]}
              dc: {trust: private, hosts: [dc-1]}
              public: {trust: public, hosts: [cloud-1]}
            tiers:
              burst:
                security: public-allowed
                costCeilingPerHour: 1.0
                allowedClouds: [tms, dc, public]
            elastic:
              intervalSeconds: 15
              cooldownSeconds: \(cooldown)
              hysteresisPercent: \(band)
              maxConcurrentActions: \(maxConcurrent)
              forecast: \(forecast.dropLast()), horizonSeconds: \(horizon), windowSeconds: 900}
            tasks:

            """
        for task in tasks {
            text += """
                  \(task):
                    image: cvm-base
                    tier: burst
                    thresholds: {connections: 100}
                    minCVMs: \(minCVMs)
                    maxCVMs: 4
                    vcpus: \(vcpus)
                    memoryMiB: 512
                    cpuShare: \(cpuShare)

                """
        }
        return try PolicyLoader.load([PolicyFile(path: "sim.yaml", text: text)], context: PolicyFixtures.catalog)
    }

    static let rampTrace = SyntheticTrace(corners: [(0, 50), (600, 50), (1200, 250), (2400, 250), (3000, 40)])

    @Test("a ramp: offload as anticipated usage crosses the threshold, scale out, then in, then back to the TMS")
    func ramp() throws {
        var site = SimulatedSite(policy: try Self.policy(), usage: ["monitor": Self.rampTrace])
        var countAt: [Double: Int] = [:]
        var t = 0.0
        while t <= 4200 {
            site.step(at: t)
            countAt[t] = site.count("monitor")
            t += 15
        }
        let kinds = site.log.map(\.action.cause)
        #expect(kinds == [.scaleOut, .scaleOut, .scaleIn, .scaleIn], "\(site.log)")
        guard site.log.count == 4 else { return }
        let (first, second, firstIn, lastIn) = (site.log[0].time, site.log[1].time, site.log[2].time, site.log[3].time)
        // Usage crosses 100 at t = 750; the forecast may anticipate it, never by more than the horizon.
        #expect(first >= 750 - 60 && first <= 750 + 15)
        // 2 CVMs once usage passes 200 (t = 1050), which is also when the cooldown from the first ends.
        #expect(second >= 1050 && second <= 1050 + 30)
        #expect(countAt[1500] == 2 && countAt[2400] == 2)
        // In only below (2 − 1 + 1) × 0.8 = 1.6 thresholds (usage 160 at t ≈ 2640), not while usage is still at 200.
        #expect(site.usage["monitor"]!.value(at: firstIn) < 200)
        #expect(firstIn >= 2543 && firstIn <= 2760)
        // Back to the TMS below 0.8 thresholds, after the cooldown.
        #expect(lastIn >= firstIn + 300 && lastIn <= 3060)
        #expect(countAt[3600] == 0)
        #expect(site.log.allSatisfy { $0.action.policyCommit == site.commit })
        #expect(site.log[0].action.reason.hasPrefix("connections anticipated"))
        #expect(site.log[0].action.explanation?.chosenHost == "tms-local")
    }

    static func loadSpike(_ site: inout SimulatedSite) {
        site.localBaseLoad = SyntheticTrace(corners: [(0, 0.3), (1199, 0.3), (1200, 0.95), (2399, 0.95), (2400, 0.2)])
    }

    @Test("push to the cloud when the local host is overloaded, bring back when it has room again")
    func pushAndBringBack() throws {
        var site = SimulatedSite(policy: try Self.policy(minCVMs: 1, cpuShare: 0.8, vcpus: 2), usage: [
            "monitor": SyntheticTrace(corners: [(0, 50)]),
        ])
        Self.loadSpike(&site)
        site.run(to: 3600)
        #expect(site.log.map(\.action.cause) == [.scaleOut, .pushToCloud, .bringBack], "\(site.log)")
        guard site.log.count == 3 else { return }
        #expect(site.log[0].time == 0)
        #expect(site.log[1].time == 1200)
        #expect(site.log[1].action.kind == .migrate(cvm: "cvm-1", from: "tms-local", to: "dc-1"))
        #expect(site.log[2].time == 2400)
        #expect(site.log[2].action.kind == .migrate(cvm: "cvm-1", from: "dc-1", to: "tms-local"))
        #expect(site.cvms["cvm-1"]?.host == "tms-local")
    }

    @Test("an I/O-bound task stays on the overloaded local host: the added latency costs more than the CPU gains")
    func ioBoundStays() throws {
        var site = SimulatedSite(policy: try Self.policy(minCVMs: 1, cpuShare: 0, vcpus: 2), usage: [
            "monitor": SyntheticTrace(corners: [(0, 50)]),
        ])
        Self.loadSpike(&site)
        site.run(to: 3600)
        #expect(site.log.map(\.action.cause) == [.scaleOut])
        let plan = site.planner.plan(now: 1800, inventory: site.inventory(at: 1800), policy: site.policy, policyCommit: site.commit)
        #expect(plan.isEmpty)
        #expect(plan.tasks[0].notes.contains { $0.hasPrefix("push of cvm-1 to dc-1 not taken: the trade does not favour it") })
    }

    /// Actions in each hour of a run.
    static func perHour(_ log: [SimulatedSite.Event], hours: Int) -> [Int] {
        (0..<hours).map { h in log.count { $0.time >= Double(h) * 3600 && $0.time < Double(h + 1) * 3600 } }
    }

    @Test("noise of ±20 % around a threshold causes at most 2 actions per hour", arguments: [
        ("around the offload threshold", [(0.0, 100.0)]),
        ("around the second CVM's threshold", [(0.0, 200.0)]),
        ("around the scale-in threshold", [(0.0, 150.0), (600, 150), (660, 80)]),
    ])
    func noisy(_ name: String, _ corners: [(Double, Double)]) throws {
        let policy = try Self.policy()
        for seed: UInt64 in 1...8 {
            var site = SimulatedSite(policy: policy, usage: ["monitor": SyntheticTrace(corners: corners, noise: 0.2, seed: seed)])
            site.run(to: 3 * 3600)
            let hours = Self.perHour(site.log, hours: 3)
            #expect(hours.allSatisfy { $0 <= 2 }, "seed \(seed): \(hours) \(site.log)")
            #expect(hours[1] + hours[2] <= 1, "seed \(seed): settled, then still acting: \(site.log)")
        }
    }

    @Test("control: without hysteresis, cooldown and forecasting, the same noise flaps")
    func noisyControl() throws {
        let bare = try Self.policy(cooldown: 0, band: 0, horizon: 0, forecast: "{method: linear}")
        var flaps: [Int] = []
        for seed: UInt64 in 1...8 {
            var site = SimulatedSite(policy: bare, usage: ["monitor": SyntheticTrace(corners: [(0, 100)], noise: 0.2, seed: seed)])
            site.run(to: 3600)
            flaps.append(site.log.count)
        }
        #expect(flaps.allSatisfy { $0 >= 10 }, "\(flaps)")
    }

    @Test("a burst on many tasks at once never has more than maxConcurrentActions under way")
    func concurrencyLimit() throws {
        let tasks = ["t1", "t2", "t3", "t4", "t5"]
        var site = SimulatedSite(
            policy: try Self.policy(maxConcurrent: 2, tasks: tasks),
            usage: Dictionary(uniqueKeysWithValues: tasks.map { ($0, SyntheticTrace(corners: [(0, 50), (300, 50), (301, 180)])) }))
        site.actionSeconds = 40
        site.run(to: 1200)
        #expect(site.maxBusy == 2)
        #expect(site.maxInFlight == 2)
        #expect(tasks.allSatisfy { site.count($0) >= 1 }, "\(site.log)")
        // Two at a time, each pair after the previous one finished: at least three rounds.
        #expect(Set(site.log.map(\.time)).count >= 3, "\(site.log)")
    }
}
