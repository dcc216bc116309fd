@testable import Planning

/// A TMS site in miniature for elastic-mode simulations: a local hypervisor, a private and a
/// public cloud host, CVMs that the planner's actions create, move and remove, and local
/// load made of a base trace plus what the CVMs on the local host add.
///
/// Actions take `actionSeconds` to complete (the CVM is deploying / migrating /
/// decommissioning meanwhile), so in-flight limits are exercised.
struct SimulatedSite {
    struct Event: Sendable, CustomStringConvertible {
        var time: Double
        var action: PlannedAction
        var description: String { "t=\(Int(time)) \(action.summary) [\(action.cause.rawValue)]" }
    }

    var policy: PolicySet
    var commit = "5e1f00d"
    var usage: [String: SyntheticTrace]
    var usageResource: UsageResource = .connections
    var localBaseLoad = SyntheticTrace(corners: [(0, 0.3)])
    var actionSeconds = 0.0
    var hosts: [HostSnapshot] = [
        PolicyTestHosts.host("tms-local", trust: .local, vcpus: 8, memoryMiB: 16384, cvms: 6, cost: 0, latencyMs: 0, cpuSpeed: 1, load: 0.3),
        PolicyTestHosts.host("dc-1", trust: .privateCloud, vcpus: 16, memoryMiB: 32768, cvms: 8, cost: 0.2, latencyMs: 2, cpuSpeed: 1.2, load: 0.3),
        PolicyTestHosts.host("cloud-1", trust: .publicCloud, vcpus: 64, memoryMiB: 131072, cvms: 32, cost: 0.5, latencyMs: 8, cpuSpeed: 1.5, load: 0.3),
    ]

    var planner = ElasticPlanner()
    var cvms: [String: CVMSnapshot] = [:]
    /// When each in-flight CVM's action completes, and what it becomes then (nil: gone).
    var pending: [String: (done: Double, then: CVMSnapshot?)] = [:]
    var log: [Event] = []
    var maxInFlight = 0
    /// Largest number of actions in flight at an evaluation plus those it returned.
    var maxBusy = 0
    private var nextID = 0

    init(policy: PolicySet, usage: [String: SyntheticTrace]) {
        self.policy = policy
        self.usage = usage
    }

    /// Local load: the base trace plus half of each local CVM's vCPU share.
    func localLoad(at t: Double) -> Double {
        let local = hosts.first { $0.trust == .local }!
        let cvmShare = cvms.values.filter { $0.host == local.name && $0.phase != .migrating }
            .reduce(0.0) { $0 + 0.5 * Double($1.vcpus) / Double(local.capacity.vcpus) }
        return min(1, localBaseLoad.value(at: t) + cvmShare)
    }

    func inventory(at t: Double) -> HostInventory {
        let snapshots = hosts.map { host -> HostSnapshot in
            var h = host
            h.used = cvms.values.filter { $0.host == host.name && $0.phase.isHealthy }.reduce(.zero) { $0 + $1.footprint }
            if h.trust == .local { h.load = localLoad(at: t) }
            return h
        }
        return HostInventory(hosts: snapshots, cvms: Array(cvms.values))
    }

    mutating func step(at t: Double) {
        for (id, p) in pending where p.done <= t {
            cvms[id] = p.then
            pending[id] = nil
        }
        let observations = usage.map { UsageObservation(task: $0.key, values: [usageResource: $0.value.value(at: t)]) }
        let current = inventory(at: t)
        let actions = planner.evaluate(now: t, observations: observations, inventory: current, policy: policy, policyCommit: commit)
        maxBusy = max(maxBusy, current.actionsInFlight + actions.count)
        for action in actions {
            log.append(Event(time: t, action: action))
            apply(action, at: t)
        }
        maxInFlight = max(maxInFlight, cvms.values.count { $0.phase.isInFlight })
    }

    mutating func apply(_ action: PlannedAction, at t: Double) {
        let done = t + actionSeconds
        switch action.kind {
        case let .deploy(task, _, host, vcpus, memoryMiB):
            nextID += 1
            let id = "cvm-\(nextID)"
            let running = CVMSnapshot(id: id, task: task, host: host, vcpus: vcpus, memoryMiB: memoryMiB, phase: .running)
            finish(id, running, phase: .deploying, done: done)
        case let .migrate(id, _, to):
            guard var cvm = cvms[id] else { return }
            cvm.host = to
            cvm.phase = .running
            finish(id, cvm, phase: .migrating, done: done)
        case let .decommission(id, _):
            finish(id, nil, phase: .decommissioning, done: done)
        }
    }

    private mutating func finish(_ id: String, _ result: CVMSnapshot?, phase: CVMPhase, done: Double) {
        if actionSeconds == 0 {
            cvms[id] = result
            return
        }
        var during = cvms[id] ?? result!
        during.phase = phase
        cvms[id] = during
        pending[id] = (done, result)
    }

    /// Evaluates every `policy.elastic.intervalSeconds` from `start` to `end` inclusive.
    mutating func run(from start: Double = 0, to end: Double) {
        var t = start
        while t <= end {
            step(at: t)
            t += policy.elastic.intervalSeconds
        }
    }

    /// CVMs of `task` that are up (not being removed).
    func count(_ task: String) -> Int {
        cvms.values.count { $0.task == task && $0.phase.isHealthy }
    }

    func events(_ cause: PlannedAction.Cause) -> [Event] {
        log.filter { $0.action.cause == cause }
    }
}
