extension PlanningRound {
    /// The offload decision of every task in the policy. Failed CVMs count as CVMs the task
    /// has, so replacing them is not subject to hysteresis (only to the decision itself).
    mutating func decide() {
        let settings = policy.elastic
        for name in policy.taskNames {
            let rule = policy.tasks[name]!
            let cvms = work.cvms(of: name)
            let current = cvms.count { $0.phase.isHealthy || $0.phase == .failed }
            let outlook = history.outlook(task: name, method: settings.forecastMethod, horizon: settings.horizonSeconds)
            decisions[name] = OffloadDecision.decide(rule: rule, outlook: outlook, current: current, band: settings.band)
        }
    }

    /// Deploys what each task lacks: replacements for CVMs removed this round (failed, or
    /// not compliant with nowhere to go) first, without cooldown; then scale-out, gated by
    /// cooldown and actions in flight.
    mutating func replaceAndScaleOut() {
        for name in policy.taskNames {
            guard let decision = decisions[name] else { continue }
            let healthy = work.cvms(of: name).count { $0.phase.isHealthy }
            let missing = decision.target - healthy
            guard missing > 0 else { continue }
            let replacements = min(missing, decision.current - healthy)
            var wanted = replacements
            if missing > replacements, mayChange(name, "\(decision.verdict.rawValue) to \(decision.target)") {
                wanted = missing
            }
            let failedHosts = Dictionary(
                original.cvms(of: name).filter { $0.phase == .failed }.map { ($0.host, PlacementExclusion.failedHere) },
                uniquingKeysWith: { first, _ in first })
            for k in 0..<wanted {
                let cause: PlannedAction.Cause = k < replacements ? .replacement : .scaleOut
                guard mayAct(on: name, "deploy \(k + 1) of \(wanted)") else { break }
                guard let request = policy.placementRequest(for: name, in: work, excluding: failedHosts) else { break }
                let placement = engine.decide(request, in: work, policyCommit: policyCommit)
                guard let host = placement.host else {
                    note(name, "no host can take another CVM: \(summary(of: placement.explanation))")
                    break
                }
                let rule = policy.tasks[name]!
                let why = cause == .replacement
                    ? "replaces a failed or removed CVM; \(decision.reason)"
                    : decision.reason
                propose(PlannedAction(
                    kind: .deploy(task: name, image: rule.image, host: host, vcpus: rule.vcpus, memoryMiB: rule.memoryMiB),
                    task: name, cause: cause, reason: "\(why); placed on \(host) (score \(scoreText(placement)))",
                    policyCommit: policyCommit, explanation: placement.explanation))
            }
        }
    }

    /// Removes what each task has too much of, from the least desirable hosts first (public
    /// before private before local, then the costliest, then by id).
    mutating func scaleIn() {
        for name in policy.taskNames {
            guard let decision = decisions[name] else { continue }
            let healthy = work.cvms(of: name).filter { $0.phase.isHealthy }
            let surplus = healthy.count - decision.target
            guard surplus > 0, !touched.contains(name) else { continue }
            guard mayChange(name, "\(decision.verdict.rawValue) to \(decision.target)") else { continue }
            let victims = healthy.filter { $0.phase == .running }.sorted { a, b in
                let ha = work.host(named: a.host), hb = work.host(named: b.host)
                let ra = ha?.trust.rank ?? 3, rb = hb?.trust.rank ?? 3
                if ra != rb { return ra > rb }
                let ca = ha?.costPerHour ?? 0, cb = hb?.costPerHour ?? 0
                if ca != cb { return ca > cb }
                return a.id < b.id
            }
            for cvm in victims.prefix(surplus) {
                guard mayAct(on: name, "decommission of \(cvm.id)") else { break }
                let host = work.host(named: cvm.host)
                let place = host.map { "\($0.trust.rawValue) host \($0.name), \(ReasonText.number($0.costPerHour, 2))/h" } ?? cvm.host
                propose(PlannedAction(
                    kind: .decommission(cvm: cvm.id, host: cvm.host), task: name, cause: .scaleIn,
                    reason: "\(decision.reason); \(cvm.id) goes first (\(place))", policyCommit: policyCommit))
            }
        }
    }

    func scoreText(_ decision: PlacementDecision) -> String {
        decision.score.map { ReasonText.fixed($0.total, 3) } ?? "-"
    }

    /// Why nothing could be placed, in one line: rejections counted by filter.
    func summary(of explanation: PlacementExplanation) -> String {
        var counts: [PlacementFilter: Int] = [:]
        for assessment in explanation.assessments {
            if let filter = assessment.rejection?.filter { counts[filter, default: 0] += 1 }
        }
        let parts = PlacementFilter.allCases.compactMap { f in counts[f].map { "\($0) by \(f.rawValue)" } }
        return parts.isEmpty ? "no candidate hosts" : "\(explanation.assessments.count) candidates rejected (" + parts.joined(separator: ", ") + ")"
    }
}
