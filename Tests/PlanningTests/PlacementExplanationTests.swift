import Testing
@testable import Planning

@Suite("PlacementExplanation")
struct PlacementExplanationTests {
    typealias H = PolicyTestHosts

    func example() -> PlacementExplanation {
        let hosts = [
            H.host("tms-local", trust: .local, vcpus: 4, used: ResourceAmount(vcpus: 3, memoryMiB: 0, cvms: 1), cost: 0, latencyMs: 0),
            H.host("par-1", cost: 0.2, latencyMs: 2),
            H.host("par-2", cost: 0.3, latencyMs: 3, load: 0.7),
            H.host("fra-a", trust: .publicCloud, cost: 0.4, latencyMs: 9),
        ]
        let tier = H.tier("standard", security: .privateOnly, hosts: hosts.map(\.name), latencyLimitMs: 5)
        return PlacementEngine().decide(H.request(tier, task: "health-monitor"), in: HostInventory(hosts: hosts), policyCommit: "3f2a1c9").explanation
    }

    @Test("lists every candidate exactly once, in name order, rejected or scored")
    func everyCandidate() {
        let e = example()
        #expect(e.candidates.map(\.host) == ["fra-a", "par-1", "par-2", "tms-local"])
        #expect(e.assessments.map(\.hostIndex) == [0, 1, 2, 3])
        #expect(e.assessments.filter { $0.score != nil }.count == 2)
        #expect(e.chosenHost == "par-1")
    }

    @Test("renders as text: decision, scored candidates best first with terms, rejections with numbers")
    func text() {
        let lines = example().render().split(separator: "\n").map(String.init)
        #expect(lines[0] == "placement of task health-monitor (tier standard, 2 vCPU, 1024 MiB) — policy commit 3f2a1c9")
        #expect(lines[1].hasPrefix("chosen: par-1 (score "))
        #expect(lines[2].hasPrefix("* par-1      score "))
        #expect(lines[2].contains("capacity 0.87×1 + load 0.80×1 + distance 1.00×1 + cost 0.83×1 + speed/io 0.45×1 (speed 0.82×) + spread 1.00×2 + preferred 0×0.5"))
        #expect(lines[3].hasPrefix("  par-2      score "))
        #expect(lines[4] == "  fra-a      rejected by security: tier standard requires private, host trust is public")
        #expect(lines[5] == "  tms-local  rejected by capacity: needs 2 vCPUs, 1 free")
        #expect(lines.count == 6)
    }

    @Test("render can cap the candidate lines and count the rest")
    func limited() {
        let text = example().render(limit: 1)
        #expect(text.split(separator: "\n").last == "  … 3 more candidates (2 scored, 2 rejected in all)")
    }

    @Test("a decision with no survivor says so")
    func none() {
        let hosts = [H.host("a", trust: .publicCloud)]
        let e = PlacementEngine().decide(H.request(H.tier(security: .localOnly, hosts: ["a"])), in: HostInventory(hosts: hosts), policyCommit: "c").explanation
        #expect(e.chosenHost == nil)
        #expect(e.render().contains("chosen: none — every candidate was rejected"))
        #expect(e.render().contains("a  rejected by security: tier t requires local-only, host trust is public"))
    }
}
