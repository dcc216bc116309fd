extension OffloadDecision {
    /// The decision in words, with the figures that made it.
    /// `bounded`: cluster size, minimum or maximum changed the target usage alone asked for.
    func explain(rule: TaskRule, band: Double, bounded: Bool) -> String {
        let base = explainUsage(rule: rule, band: band, bounded: bounded)
        guard let unrelieved, target <= current || units.map({ $0 <= 1 }) ?? true else { return base }
        return base + "; heavy on \(unrelieved.resource.rawValue) (\(ReasonText.number(unrelieved.units, 2))× its threshold), which offloading does not relieve (offloadWhen: \(rule.offloadWhen.map(\.rawValue).joined(separator: ", "))): it stays with the TMS"
    }

    private func explainUsage(rule: TaskRule, band: Double, bounded: Bool) -> String {
        let counts = "\(target) CVM\(target == 1 ? "" : "s") needed (has \(current))"
        guard let units, let dominant, let threshold else {
            let why = rule.thresholds.isEmpty ? "no offload thresholds" : "no usage observed yet"
            if target != current {
                return "\(why); bounds minCVMs \(rule.minCVMs) ... maxCVMs \(rule.maxCVMs): \(counts)"
            }
            return "\(why); holding \(current) CVM\(current == 1 ? "" : "s")"
        }
        let p = dominant.pattern
        let usage = "\(dominant.resource.rawValue) anticipated \(ReasonText.number(dominant.anticipated)) "
            + "(level \(ReasonText.number(dominant.forecast.level)), now \(ReasonText.number(p.rate)), avg \(ReasonText.number(p.movingAverage)), peak \(ReasonText.number(p.peak)), trend \(ReasonText.signed(p.trend))/s, "
            + "horizon \(ReasonText.plain(dominant.forecast.horizon)) s) = \(ReasonText.number(units, 2))× threshold \(ReasonText.number(threshold))"
        let outAbove = Double(current + 1)
        let inBelow = Double(current) * (1 - band)
        let bounds = bounded ? " (bounded by min \(rule.minCVMs), max \(rule.maxCVMs), cluster \(rule.clusterSize))" : ""
        switch verdict {
        case .runLocally:
            return "\(usage) <= 1×: the TMS carries it; \(counts)\(bounds)"
        case .offload, .scaleOut:
            guard units > outAbove else {
                return "\(usage); bounds min \(rule.minCVMs), max \(rule.maxCVMs), cluster \(rule.clusterSize): \(counts)"
            }
            return "\(usage) > \(ReasonText.number(outAbove, 2))× (TMS + \(current) CVM\(current == 1 ? "" : "s")): \(counts)\(bounds)"
        case .scaleIn, .returnToTMS:
            if let confirmedUnits, confirmedUnits < inBelow {
                return "\(usage); it and the level < \(ReasonText.number(inBelow, 2))× (TMS + \(current - 1) CVM\(current - 1 == 1 ? "" : "s"), less the \(ReasonText.plain(band * 100)) % band): \(counts)\(bounds)"
            }
            return "\(usage); bounds min \(rule.minCVMs), max \(rule.maxCVMs), cluster \(rule.clusterSize): \(counts)"
        case .hold:
            return "\(usage): within hysteresis (out above \(ReasonText.number(outAbove, 2))×, in below \(ReasonText.number(inBelow, 2))×) with \(current) CVM\(current == 1 ? "" : "s")"
        }
    }
}
