/// One evaluation of the elastic planner: a working copy of the inventory that every
/// proposed action updates, so later proposals in the same round see earlier ones.
///
/// Every task's offload decision is made first, on the inventory as it is. Then, most urgent
/// first (each step stops when the action budget is spent): compliance and failures,
/// replacements and scale-out, pushes to the cloud, scale-in, bring-backs.
struct PlanningRound {
    /// Limits of a live evaluation; `plan` runs without them.
    struct Gates {
        var budget: Int
        var cooldownSeconds: Double
        var lastActionAt: [String: Double]
    }

    let now: Double
    let original: HostInventory
    var work: HostInventory
    let policy: PolicySet
    let policyCommit: String
    let history: UsageHistory
    var gates: Gates?
    let engine: PlacementEngine
    var actions: [PlannedAction] = []
    var decisions: [String: OffloadDecision] = [:]
    var notes: [String: [String]] = [:]
    /// Tasks that already got an action this round (rebalancing leaves them alone).
    var touched: Set<String> = []
    private var plannedCount = 0

    init(now: Double, inventory: HostInventory, policy: PolicySet, policyCommit: String, history: UsageHistory, gates: Gates?) {
        self.now = now
        self.original = inventory
        self.work = inventory
        self.policy = policy
        self.policyCommit = policyCommit
        self.history = history
        self.gates = gates
        self.engine = PlacementEngine(weights: policy.placementWeights)
    }

    mutating func run() {
        decide()
        enforceCompliance()
        replaceAndScaleOut()
        pushToCloud()
        scaleIn()
        bringBack()
    }

    // MARK: Gates

    /// True when another action may be proposed; otherwise notes why not for `task`.
    mutating func mayAct(on task: String, _ what: String) -> Bool {
        guard let gates else { return true }
        if gates.budget <= 0 {
            note(task, "\(what) deferred: \(policy.elastic.maxConcurrentActions) concurrent actions at most")
            return false
        }
        return true
    }

    /// True when the task may scale or be rebalanced now (no cooldown running, nothing of it
    /// in flight); otherwise notes why not.
    mutating func mayChange(_ task: String, _ what: String) -> Bool {
        guard let gates else { return true }
        if let last = gates.lastActionAt[task], now - last < gates.cooldownSeconds {
            note(task, "\(what) waits for the cooldown: \(ReasonText.plain((gates.cooldownSeconds - (now - last)).rounded(.up))) s left")
            return false
        }
        if let busy = original.cvms.first(where: { $0.task == task && $0.phase.isInFlight }) {
            note(task, "\(what) waits for \(busy.id) (\(busy.phase.rawValue))")
            return false
        }
        return mayAct(on: task, what)
    }

    mutating func note(_ task: String, _ text: String) {
        notes[task, default: []].append(text)
    }

    // MARK: Proposing (and applying to the working inventory)

    mutating func propose(_ action: PlannedAction) {
        actions.append(action)
        touched.insert(action.task)
        gates?.budget -= 1
        switch action.kind {
        case let .deploy(task, _, host, vcpus, memoryMiB):
            plannedCount += 1
            let cvm = CVMSnapshot(id: "planned-\(plannedCount)", task: task, host: host, vcpus: vcpus, memoryMiB: memoryMiB, phase: .deploying)
            work.reserve(cvm.footprint, on: host)
            work.updateCVM(id: cvm.id, to: cvm)
        case let .migrate(id, from, to):
            guard var cvm = work.cvm(id: id) else { return }
            work.release(cvm.footprint, on: from)
            work.reserve(cvm.footprint, on: to)
            shiftLoad(of: cvm, from: from, to: to)
            cvm.host = to
            cvm.phase = .migrating
            work.updateCVM(id: id, to: cvm)
        case let .decommission(id, host):
            guard let cvm = work.cvm(id: id) else { return }
            if cvm.phase.isHealthy { work.release(cvm.footprint, on: host) }
            work.updateCVM(id: id, to: nil)
        }
    }

    /// The load a CVM is assumed to put on a host: its vCPUs over the host's, as if busy
    /// (an upper bound, so a bring-back cannot overshoot what it estimated).
    func loadShare(of cvm: CVMSnapshot, on host: HostSnapshot) -> Double {
        host.capacity.vcpus > 0 ? Double(cvm.vcpus) / Double(host.capacity.vcpus) : 1
    }

    private mutating func shiftLoad(of cvm: CVMSnapshot, from: String, to: String) {
        if let source = work.host(named: from) {
            work.setLoad(max(0, source.load - loadShare(of: cvm, on: source)), on: from)
        }
        if let target = work.host(named: to) {
            work.setLoad(min(1, target.load + loadShare(of: cvm, on: target)), on: to)
        }
    }

    /// Per-task summary for a plan, by task name.
    func taskPlans() -> [TaskPlan] {
        let names = Set(policy.tasks.keys).union(original.cvms.map(\.task)).sorted()
        return names.map { name in
            TaskPlan(task: name, cvms: original.cvms(of: name), decision: decisions[name], notes: notes[name] ?? [])
        }
    }
}
