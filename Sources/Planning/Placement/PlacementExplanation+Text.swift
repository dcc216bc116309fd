extension PlacementExplanation {
    /// The explanation for a person: the decision, then every candidate — scored ones best
    /// first with their terms, then rejected ones by name with the filter and its numbers.
    ///
    /// `limit` caps the candidate lines (the rest are counted, not listed); nil lists all.
    public func render(limit: Int? = nil) -> String {
        var lines: [String] = []
        lines.append("placement of task \(task) (tier \(tier), \(vcpus) vCPU, \(memoryMiB) MiB) — policy commit \(policyCommit)")
        if let chosenHost, let score = chosenIndex.flatMap({ assessments[Int($0)].score }) {
            lines.append("chosen: \(chosenHost) (score \(ReasonText.fixed(score.total, 3)))")
        } else {
            lines.append("chosen: none — every candidate was rejected")
        }
        let scored = assessments.filter { $0.score != nil }.sorted {
            let a = $0.score!.total, b = $1.score!.total
            return a != b ? a > b : $0.hostIndex < $1.hostIndex
        }
        let rejected = assessments.filter { $0.score == nil }
        let ordered = scored + rejected
        let shown = limit.map { min($0, ordered.count) } ?? ordered.count
        let width = ordered.prefix(shown).map { host(of: $0).count }.max() ?? 0
        for assessment in ordered.prefix(shown) {
            let name = host(of: assessment).padded(to: width)
            switch assessment.verdict {
            case let .scored(score):
                let mark = assessment.hostIndex == chosenIndex ? "*" : " "
                lines.append("\(mark) \(name)  score \(ReasonText.fixed(score.total, 3)) = \(describe(score))")
            case let .rejected(rejection):
                lines.append("  \(name)  rejected by \(rejection.filter.rawValue): \(describe(rejection))")
            }
        }
        if shown < ordered.count {
            lines.append("  … \(ordered.count - shown) more candidates (\(scored.count) scored, \(rejected.count) rejected in all)")
        }
        return lines.joined(separator: "\n")
    }

    /// The weighted terms of a score: `capacity 0.81×1 + load 0.70×1 + ...`.
    public func describe(_ s: ScoreBreakdown) -> String {
        let w = weights
        var distance = "distance \(ReasonText.fixed(s.distance, 2))×\(ReasonText.plain(w.distance))"
        if !s.distanceKm.isNaN { distance += " (\(ReasonText.fixed(s.distanceKm, 0)) km)" }
        return [
            "capacity \(ReasonText.fixed(s.capacity, 2))×\(ReasonText.plain(w.capacity))",
            "load \(ReasonText.fixed(s.load, 2))×\(ReasonText.plain(w.load))",
            distance,
            "cost \(ReasonText.fixed(s.cost, 2))×\(ReasonText.plain(w.cost))",
            "speed/io \(ReasonText.fixed(s.speedTrade, 2))×\(ReasonText.plain(w.speedTrade)) (speed \(ReasonText.fixed(s.relativeSpeed, 2))×)",
            "spread \(ReasonText.fixed(s.spread, 2))×\(ReasonText.plain(w.spread))",
            "preferred \(ReasonText.fixed(s.preference, 0))×\(ReasonText.plain(w.preference))",
        ].joined(separator: " + ")
    }

    /// The numbers behind a rejection, in words.
    public func describe(_ rejection: PlacementRejection) -> String {
        switch rejection {
        case let .excluded(why):
            return why.rawValue
        case .notAllowedByTier:
            return "not among tier \(tier)'s allowed clouds and hosts"
        case let .security(required, trust):
            return "tier \(tier) requires \(required.rawValue), host trust is \(trust.rawValue)"
        case let .hypervisor(required, offered):
            return "image runs on \(required), host offers \(offered)"
        case let .latency(limit, measured):
            return "\(ReasonText.fixed(measured, 1)) ms to the TMS > limit \(ReasonText.fixed(limit, 1)) ms"
        case let .cost(ceiling, cost):
            return "\(ReasonText.fixed(cost, 2))/h > ceiling \(ReasonText.fixed(ceiling, 2))/h"
        case let .tierCapacity(resource, needed, free):
            return "needs \(ReasonText.fixed(needed, 0)) \(resource.rawValue), tier \(tier) has \(ReasonText.fixed(free, 0)) left"
        case let .hostCapacity(resource, needed, free):
            return "needs \(ReasonText.fixed(needed, 0)) \(resource.rawValue), \(ReasonText.fixed(free, 0)) free"
        }
    }

}

extension String {
    fileprivate func padded(to length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
