extension PlanningRound {
    /// Pushes one CVM per overloaded local host to a cloud host, when the task's speed/latency
    /// trade favours the cloud host over staying: local load above `pushAboveLoadPercent`,
    /// and the task's expected speed there (CPU speed left by the load against the added I/O
    /// latency, see ``SpeedTrade``) beats its speed on the overloaded host.
    mutating func pushToCloud() {
        let settings = policy.elastic
        let remote = Set(work.hosts.filter { $0.trust != .local }.map(\.name))
        for local in work.hosts where local.trust == .local && local.load > settings.pushLoad {
            let residents = work.cvms.filter { $0.host == local.name && $0.phase == .running && !touched.contains($0.task) }
                .sorted { ($0.vcpus, $1.id) > ($1.vcpus, $0.id) }
            for cvm in residents {
                guard let rule = policy.tasks[cvm.task], policy.tiers[rule.tier]?.security != .localOnly else { continue }
                guard let request = policy.placementRequest(
                    for: cvm.task, in: work, moving: cvm.id, excluding: [local.name: .currentHost], onlyHosts: remote)
                else { continue }
                let placement = engine.decide(request, in: work, policyCommit: policyCommit)
                guard let target = placement.host.flatMap({ work.host(named: $0) }) else {
                    note(cvm.task, "push of \(cvm.id) off \(local.name) considered, but \(summary(of: placement.explanation))")
                    continue
                }
                let here = SpeedTrade.relativeSpeed(of: local, profile: rule.profile, weights: policy.placementWeights)
                let there = SpeedTrade.relativeSpeed(of: target, profile: rule.profile, weights: policy.placementWeights)
                let trade = "\(ReasonText.number(there, 2))× there against \(ReasonText.number(here, 2))× here (CPU share \(ReasonText.number(rule.profile.cpuShare, 2)), "
                    + "+\(ReasonText.number(target.latencyMs, 1)) ms I/O latency, CPU speed \(ReasonText.number(target.cpuSpeed, 2)) at load \(ReasonText.percent(target.load)))"
                guard there > here else {
                    note(cvm.task, "push of \(cvm.id) to \(target.name) not taken: the trade does not favour it, \(trade)")
                    continue
                }
                guard mayChange(cvm.task, "push of \(cvm.id) to \(target.name)") else { continue }
                propose(PlannedAction(
                    kind: .migrate(cvm: cvm.id, from: local.name, to: target.name), task: cvm.task, cause: .pushToCloud,
                    reason: "local host \(local.name) load \(ReasonText.percent(local.load)) > \(ReasonText.percent(settings.pushLoad)); \(cvm.task) runs \(trade) on \(target.trust.rawValue) host \(target.name)",
                    policyCommit: policyCommit, explanation: placement.explanation))
                break
            }
        }
    }

    /// Brings one CVM per local host back from a cloud host when the local host has room
    /// again — its load plus the CVM's share stays below `pushAboveLoadPercent × (1 − band)`
    /// — and, scored side by side with the CVM's current host, the local host wins. CVMs that
    /// sit on a cloud host on their merits (near their servers, much faster) stay there.
    mutating func bringBack() {
        let settings = policy.elastic
        for local in work.hosts where local.trust == .local && local.load < settings.bringBackLoad {
            let away = work.cvms.filter { cvm in
                cvm.phase == .running && !touched.contains(cvm.task)
                    && work.host(named: cvm.host).map { $0.trust != .local } == true
                    && policy.tier(of: cvm.task).map { $0.resolvedHosts.contains(local.name) && $0.security.allows(.local) } == true
            }.sorted { a, b in
                let ca = work.host(named: a.host)!.costPerHour, cb = work.host(named: b.host)!.costPerHour
                return ca != cb ? ca > cb : a.id < b.id
            }
            for cvm in away {
                let share = loadShare(of: cvm, on: local)
                guard local.load + share < settings.bringBackLoad else {
                    note(cvm.task, "bring-back of \(cvm.id) to \(local.name) waits: load \(ReasonText.percent(local.load)) + \(ReasonText.percent(share)) for it is not below \(ReasonText.percent(settings.bringBackLoad))")
                    continue
                }
                // Score both places as if the CVM were nowhere: its own host gets its room back.
                var sideBySide = work
                sideBySide.release(cvm.footprint, on: cvm.host)
                guard let request = policy.placementRequest(
                    for: cvm.task, in: sideBySide, moving: cvm.id, onlyHosts: [local.name, cvm.host])
                else { continue }
                let placement = engine.decide(request, in: sideBySide, policyCommit: policyCommit)
                guard placement.host == local.name else {
                    let stay = placement.host.map { "it scores better on \($0)" } ?? summary(of: placement.explanation)
                    note(cvm.task, "bring-back of \(cvm.id) to \(local.name) not taken: \(stay)")
                    continue
                }
                guard mayChange(cvm.task, "bring-back of \(cvm.id) to \(local.name)") else { continue }
                let source = work.host(named: cvm.host)!
                propose(PlannedAction(
                    kind: .migrate(cvm: cvm.id, from: cvm.host, to: local.name), task: cvm.task, cause: .bringBack,
                    reason: "local host \(local.name) load \(ReasonText.percent(local.load)) + \(ReasonText.percent(share)) for \(cvm.id) < \(ReasonText.percent(settings.bringBackLoad)) "
                        + "(push above \(ReasonText.percent(settings.pushLoad)) less \(ReasonText.plain(settings.hysteresisPercent)) % band); "
                        + "back from \(source.trust.rawValue) host \(source.name) (\(ReasonText.number(source.costPerHour, 2))/h, \(ReasonText.number(source.latencyMs, 1)) ms), local scores \(scoreText(placement))",
                    policyCommit: policyCommit, explanation: placement.explanation))
                break
            }
        }
    }
}
