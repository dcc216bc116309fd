import Foundation

/// Which clusters elastic mode heals now (SPEC §2: lost members are replaced): those not
/// whole — a failed member, fewer members than their size, no running master — that nobody
/// is changing (no member deploying, stopping or migrating, no other process owning the
/// cluster, no heal of ours under way) and whose last failed heal is at least `retryAfter`
/// old. Pure bookkeeping; the service runs the heals.
struct ClusterHealing {
    var retryAfter: TimeInterval = 30
    private(set) var underWay: Set<String> = []
    private var lastFailure: [String: Date] = [:]
    /// Clusters already recommended (recommend-only mode journals each episode once).
    private var recommended: Set<String> = []

    /// The clusters to heal now, with why.
    func due(_ reports: [ClusterReport], isBusy: (String) -> Bool, now: Date) -> [(name: String, why: String)] {
        reports.compactMap { report in
            guard !report.healthy, !underWay.contains(report.name), !isBusy(report.name) else { return nil }
            let transitional: Set<String> = ["deploying", "stopping", "migrating"]
            guard !report.members.contains(where: { transitional.contains($0.state) }) else { return nil }
            if let failed = lastFailure[report.name], now.timeIntervalSince(failed) < retryAfter { return nil }
            let failed = report.members.filter { $0.state == "failed" }.map(\.name)
            var why: [String] = []
            if !failed.isEmpty { why.append("failed: \(failed.joined(separator: ", "))") }
            if report.members.count < report.size { why.append("\(report.members.count) of \(report.size) members") }
            if report.master == nil { why.append("no running master") }
            return (report.name, why.joined(separator: "; "))
        }
    }

    mutating func started(_ name: String) { underWay.insert(name) }

    mutating func ended(_ name: String, failed: Bool, at now: Date) {
        underWay.remove(name)
        lastFailure[name] = failed ? now : nil
    }

    /// Recommend-only: whether this unhealthy episode is new (worth a journal line).
    mutating func shouldRecommend(_ name: String) -> Bool { recommended.insert(name).inserted }

    /// Forgets recommendations of clusters that are whole again (a later loss is new).
    mutating func whole(_ names: some Sequence<String>) { recommended.subtract(names) }
}
