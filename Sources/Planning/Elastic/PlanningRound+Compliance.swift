extension PlanningRound {
    /// Cleans up failed CVMs and CVMs of tasks the policy dropped, and moves CVMs whose host
    /// the policy no longer allows (not in the tier's hosts, trust below the tier's security,
    /// image cannot run there) — or removes them, when their task needs fewer CVMs anyway or no
    /// allowed host can take them. Neither waits for cooldowns; both count against the budget.
    ///
    /// Latency and cost are not checked here: they are measured, and moving a CVM on a blip
    /// would thrash. They only steer where new CVMs go.
    mutating func enforceCompliance() {
        for cvm in original.cvms where !cvm.phase.isInFlight {
            guard let rule = policy.tasks[cvm.task], let tier = policy.tiers[rule.tier] else {
                guard mayAct(on: cvm.task, "decommission of \(cvm.id)") else { continue }
                propose(PlannedAction(
                    kind: .decommission(cvm: cvm.id, host: cvm.host), task: cvm.task, cause: .compliance,
                    reason: "task \(cvm.task) is not in the policy any more", policyCommit: policyCommit))
                continue
            }
            if cvm.phase == .failed {
                guard mayAct(on: cvm.task, "clean-up of failed \(cvm.id)") else { continue }
                propose(PlannedAction(
                    kind: .decommission(cvm: cvm.id, host: cvm.host), task: cvm.task, cause: .failure,
                    reason: "\(cvm.id) failed on \(cvm.host); its task is resumed elsewhere or by the TMS as usage requires",
                    policyCommit: policyCommit))
                continue
            }
            guard let violation = violation(of: cvm, rule: rule, tier: tier) else { continue }
            guard mayAct(on: cvm.task, "move of non-compliant \(cvm.id)") else { continue }
            if let decision = decisions[cvm.task], work.cvms(of: cvm.task).count(where: { $0.phase.isHealthy }) > decision.target {
                propose(PlannedAction(
                    kind: .decommission(cvm: cvm.id, host: cvm.host), task: cvm.task, cause: .compliance,
                    reason: "\(violation), and the task needs fewer CVMs anyway: \(decision.reason)", policyCommit: policyCommit))
                continue
            }
            let request = policy.placementRequest(
                for: cvm.task, in: work, moving: cvm.id, excluding: [cvm.host: .currentHost])
            let decision = request.map { engine.decide($0, in: work, policyCommit: policyCommit) }
            if let decision, let target = decision.host {
                propose(PlannedAction(
                    kind: .migrate(cvm: cvm.id, from: cvm.host, to: target), task: cvm.task, cause: .compliance,
                    reason: "\(violation); \(target) is the best allowed host", policyCommit: policyCommit,
                    explanation: decision.explanation))
            } else {
                propose(PlannedAction(
                    kind: .decommission(cvm: cvm.id, host: cvm.host), task: cvm.task, cause: .compliance,
                    reason: "\(violation), and no allowed host can take it", policyCommit: policyCommit,
                    explanation: decision?.explanation))
            }
        }
    }

    /// Why the policy no longer allows `cvm` where it is, or nil if it does.
    func violation(of cvm: CVMSnapshot, rule: TaskRule, tier: TierPolicy) -> String? {
        guard let host = work.host(named: cvm.host) else {
            return "host \(cvm.host) is not in the inventory"
        }
        if !tier.resolvedHosts.contains(host.name) {
            return "tier \(tier.name) does not allow host \(host.name)"
        }
        if !tier.security.allows(host.trust) {
            return "tier \(tier.name) requires \(tier.security.rawValue) but \(host.name) is \(host.trust.rawValue)"
        }
        if let image = policy.images[rule.image], image.hypervisors.isDisjoint(with: host.hypervisors) {
            return "image \(image.name) runs on \(image.hypervisors), \(host.name) offers \(host.hypervisors)"
        }
        return nil
    }
}
