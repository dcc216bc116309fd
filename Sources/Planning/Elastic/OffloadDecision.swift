/// What one task should look like now: how many CVMs beside the TMS, decided from anticipated
/// usage with hysteresis, and why.
///
/// The model: the TMS carries up to one threshold's worth of the task and every CVM another,
/// like a spillover chain. With anticipated usage `u` in units of the threshold (the largest
/// ratio over the resources the rule has thresholds for) and `n` CVMs now:
/// - scale out when `u > n + 1`, to `ceil(u - 1)` CVMs (0 CVMs while `u <= 1`: run locally);
/// - scale in only when `c < n × (1 - band)`, to the smallest `m` with `c < (m + 1) × (1 - band)`,
///   where `c` is the larger of `u` and the smoothed current level: rises are anticipated, falls
///   must also have happened (noise in the trend alone cannot make the forecast dip and remove
///   a CVM that the next samples need again);
/// - otherwise hold. Then: an offloaded task has at least `clusterSize` CVMs, and always
///   `minCVMs ... maxCVMs`.
/// A task without thresholds, or without usage yet, holds (within the bounds).
public struct OffloadDecision: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable {
        /// No CVMs now, none needed: the TMS runs the task.
        case runLocally = "run locally"
        /// No CVMs now, some needed.
        case offload
        case scaleOut = "scale out"
        case hold
        case scaleIn = "scale in"
        /// CVMs now, none needed: the TMS takes the task back.
        case returnToTMS = "return to the TMS"
    }

    public var task: String
    public var current: Int
    public var target: Int
    public var verdict: Verdict
    /// Anticipated usage in units of the threshold; nil without thresholds or usage.
    public var units: Double?
    /// The larger of anticipated usage and its smoothed current level, in units of the
    /// threshold: what scale-in compares (nil without thresholds or usage).
    public var confirmedUnits: Double?
    /// The outlook of the resource that decided (the largest ratio).
    public var dominant: UsageOutlook?
    public var threshold: Double?
    /// The heaviest resource over its threshold that offloading does not relieve (the rule's
    /// `offloadWhen` leaves it out), with its ratio: why a heavy task stays.
    public var unrelieved: Unrelieved?
    public var reason: String

    public struct Unrelieved: Sendable, Hashable {
        public var resource: UsageResource
        public var units: Double
    }

    /// Decides for `rule` with `current` CVMs (healthy plus those being replaced).
    /// `band` is the hysteresis band as a fraction (0.2); contract: `0 <= band < 1`.
    public static func decide(
        rule: TaskRule, outlook: [UsageResource: UsageOutlook], current: Int, band: Double
    ) -> OffloadDecision {
        var units: Double?
        var confirmed = 0.0
        var dominant: UsageOutlook?
        var threshold: Double?
        var unrelieved: Unrelieved?
        for resource in rule.thresholds.keys.sorted() {
            guard let limit = rule.thresholds[resource], let o = outlook[resource] else { continue }
            if !rule.offloadWhen.isEmpty, !rule.offloadWhen.contains(resource) {
                let ratio = o.anticipated / limit
                if ratio > 1, ratio > (unrelieved?.units ?? 0) { unrelieved = Unrelieved(resource: resource, units: ratio) }
                continue
            }
            let ratio = o.anticipated / limit
            if units == nil || ratio > units! {
                units = ratio
                dominant = o
                threshold = limit
            }
            confirmed = max(confirmed, max(o.anticipated, o.forecast.level) / limit)
        }

        var target = current
        if let u = units.map({ min($0, 1e9) }) {
            let needed = u <= 1 ? 0 : Int((u - 1).rounded(.up))
            if needed > current {
                target = needed
            } else {
                let keep = Int((min(confirmed, 1e9) / (1 - band)).rounded(.down))
                if keep < current { target = keep }
            }
        }
        let wanted = target
        if target > 0 { target = max(target, rule.clusterSize) }
        target = min(max(target, rule.minCVMs), rule.maxCVMs)

        let verdict: Verdict
        if target == current {
            verdict = current == 0 ? .runLocally : .hold
        } else if target > current {
            verdict = current == 0 ? .offload : .scaleOut
        } else {
            verdict = target == 0 ? .returnToTMS : .scaleIn
        }
        var decision = OffloadDecision(
            task: rule.name, current: current, target: target, verdict: verdict, units: units,
            confirmedUnits: units == nil ? nil : confirmed, dominant: dominant, threshold: threshold, unrelieved: unrelieved, reason: "")
        decision.reason = decision.explain(rule: rule, band: band, bounded: wanted != target)
        return decision
    }
}
