import UsageModel
import Testing
@testable import Planning

@Suite("OffloadDecision")
struct OffloadDecisionTests {
    static func rule(min: Int = 0, max: Int = 10, cluster: Int = 1, thresholds: [UsageResource: Double] = [.connections: 100]) -> TaskRule {
        TaskRule(name: "t", image: "i", tier: "x", thresholds: thresholds, minCVMs: min, maxCVMs: max, clusterSize: cluster, vcpus: 1, memoryMiB: 256)
    }

    static func outlook(_ values: [UsageResource: Double]) -> [UsageResource: UsageOutlook] {
        values.mapValues { v in
            let series = UsageSeries([UsageSample(time: 0, value: v)])
            return UsageOutlook(resource: .connections, pattern: UsagePattern(series), forecast: UsageForecast(series, method: .linear, horizon: 60))
        }.reduce(into: [:]) { result, entry in
            var o = entry.value
            o.resource = entry.key
            result[entry.key] = o
        }
    }

    static func decide(_ connections: Double, current: Int, band: Double = 0.2, rule: TaskRule = rule()) -> OffloadDecision {
        OffloadDecision.decide(rule: rule, outlook: outlook([.connections: connections]), current: current, band: band)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var usage: Double, current: Int, target: Int, verdict: OffloadDecision.Verdict
        var testDescription: String { "\(usage) with \(current) → \(target) (\(verdict.rawValue))" }
    }

    @Test("scale out above (n + 1) thresholds; in only below n × (1 − band)", arguments: [
        Case(usage: 100, current: 0, target: 0, verdict: .runLocally),       // exactly the TMS's share
        Case(usage: 101, current: 0, target: 1, verdict: .offload),
        Case(usage: 250, current: 0, target: 2, verdict: .offload),          // ceil(2.5 − 1)
        Case(usage: 200, current: 1, target: 1, verdict: .hold),
        Case(usage: 201, current: 1, target: 2, verdict: .scaleOut),
        Case(usage: 81, current: 1, target: 1, verdict: .hold),              // band: not below 0.8
        Case(usage: 79, current: 1, target: 0, verdict: .returnToTMS),
        Case(usage: 161, current: 2, target: 2, verdict: .hold),             // 2 × 0.8 = 1.6
        Case(usage: 159, current: 2, target: 1, verdict: .scaleIn),          // 159 < (1+1) × 0.8 × 100
        Case(usage: 100, current: 3, target: 1, verdict: .scaleIn),          // floor(1.0 / 0.8) = 1
        Case(usage: 10, current: 3, target: 0, verdict: .returnToTMS),
        Case(usage: 1e12, current: 0, target: 10, verdict: .offload),        // capped by maxCVMs
    ])
    func hysteresis(_ c: Case) {
        let d = Self.decide(c.usage, current: c.current)
        #expect(d.target == c.target)
        #expect(d.verdict == c.verdict)
    }

    @Test("without a band, in as soon as the reduced capacity suffices")
    func noBand() {
        #expect(Self.decide(99, current: 1, band: 0).target == 0)
        #expect(Self.decide(199, current: 2, band: 0).target == 1)
    }

    @Test("cluster size, minimum and maximum bound the target")
    func bounds() {
        let clustered = Self.rule(max: 5, cluster: 3)
        #expect(Self.decide(150, current: 0, rule: clustered).target == 3)   // offload means a full cluster
        #expect(Self.decide(150, current: 3, rule: clustered).target == 3)   // 1 CVM would do, the cluster stays
        #expect(Self.decide(20, current: 3, rule: clustered).target == 0)    // all of it returns
        #expect(Self.decide(20, current: 0, rule: Self.rule(min: 2)).target == 2)
        #expect(Self.decide(20, current: 0, rule: Self.rule(min: 2)).verdict == .offload)
        #expect(Self.decide(900, current: 6, rule: Self.rule(max: 4)).verdict == .scaleIn)  // max lowered
    }

    @Test("the resource furthest above its threshold decides")
    func dominant() {
        let rule = Self.rule(thresholds: [.connections: 100, .cpuPercent: 50, .memoryMiB: 512])
        let d = OffloadDecision.decide(rule: rule, outlook: Self.outlook([.connections: 120, .cpuPercent: 90, .memoryMiB: 100]), current: 0, band: 0.2)
        #expect(d.dominant?.resource == .cpuPercent)
        #expect(d.units == 1.8)
        #expect(d.threshold == 50)
        #expect(d.target == 1)
        #expect(d.reason.hasPrefix("cpuPercent anticipated 90 (level 90, now 90, avg 90, peak 90, trend +0.00/s, horizon 60 s) = 1.80× threshold 50 > 1.00× (TMS + 0 CVMs): 1 CVM needed (has 0)"))
    }

    @Test("no thresholds or no usage yet: hold within the bounds")
    func hold() {
        let none = OffloadDecision.decide(rule: Self.rule(thresholds: [:]), outlook: Self.outlook([.connections: 1e6]), current: 2, band: 0.2)
        #expect(none.target == 2 && none.verdict == .hold && none.units == nil)
        #expect(none.reason == "no offload thresholds; holding 2 CVMs")
        let blind = OffloadDecision.decide(rule: Self.rule(min: 1, max: 3), outlook: [:], current: 5, band: 0.2)
        #expect(blind.target == 3 && blind.verdict == .scaleIn)
        #expect(blind.reason == "no usage observed yet; bounds minCVMs 1 ... maxCVMs 3: 3 CVMs needed (has 5)")
    }

    @Test("per task by usage pattern: heavy on CPU or disk is offloaded; heavy only on network I/O stays with the TMS (offloadWhen)")
    func offloadWhenDecidesByPattern() {
        var rule = Self.rule(thresholds: [.cpuPercent: 50, .diskBytesPerSecond: 1_000_000, .bytesPerSecond: 10_000])
        rule.offloadWhen = [.cpuPercent, .diskBytesPerSecond]
        // Network I/O at 5× its threshold, CPU and disk low: stays, and says why.
        let network = OffloadDecision.decide(rule: rule, outlook: Self.outlook([.cpuPercent: 20, .diskBytesPerSecond: 1000, .bytesPerSecond: 50_000]),
                                             current: 0, band: 0.2)
        #expect(network.verdict == .runLocally && network.target == 0)
        #expect(network.reason.contains("heavy on bytesPerSecond (5.00× its threshold), which offloading does not relieve"), "\(network.reason)")
        #expect(network.reason.contains("stays with the TMS"))
        // The same network load with the CPU at 3× its threshold: offloaded, as CPU decides.
        let cpu = OffloadDecision.decide(rule: rule, outlook: Self.outlook([.cpuPercent: 150, .diskBytesPerSecond: 1000, .bytesPerSecond: 50_000]),
                                         current: 0, band: 0.2)
        #expect(cpu.verdict == .offload && cpu.target == 2 && cpu.dominant?.resource == .cpuPercent, "\(cpu.reason)")
        // Disk heavy: offloaded.
        let disk = OffloadDecision.decide(rule: rule, outlook: Self.outlook([.cpuPercent: 10, .diskBytesPerSecond: 2_500_000]), current: 0, band: 0.2)
        #expect(disk.verdict == .offload && disk.dominant?.resource == .diskBytesPerSecond)
        // Offloaded, and the load turns to network I/O: it comes back.
        let back = OffloadDecision.decide(rule: rule, outlook: Self.outlook([.cpuPercent: 5, .bytesPerSecond: 80_000]), current: 1, band: 0.2)
        #expect(back.verdict == .returnToTMS && back.reason.contains("heavy on bytesPerSecond"), "\(back.reason)")
        // Without offloadWhen every threshold counts (as before).
        rule.offloadWhen = []
        #expect(OffloadDecision.decide(rule: rule, outlook: Self.outlook([.cpuPercent: 20, .bytesPerSecond: 50_000]), current: 0, band: 0.2).verdict == .offload)
    }
}
