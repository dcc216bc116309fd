import PropertyBased
import Testing
@testable import TMSCore

/// Random interleavings of admit / admit-or-wait / release / service flip / limit change /
/// reconfiguration / time passing / spillover queries / cancellation on many simulated
/// cores, driven through the real `VServerQuota`. After EVERY step:
/// - S_available + Σ held == S (of the generation now in force);
/// - Σ in-use <= L, or the vServer is over its limit after a decrease with every core
///   paused — and then no admission succeeds;
/// - every core's in-use equals the connections the model holds open there;
/// - each answer (admission source, batch returned, re-classification, FIFO serving,
///   expiry, spillover) is the one SPEC.md §1.1 prescribes from the state before the step;
/// - no spill or refusal while the requesting core holds unused quota (borrowed quota it
///   does not use counts as its own), whatever the thresholds T1 and T2.
@Suite struct QuotaPropertyTests {
    struct Scenario: CustomStringConvertible {
        let cores: Int
        let capacities: [Int]
        let exclusiveBP: Int
        let batchBP: Int
        let queueCapacity: Int
        let timeout: Duration
        let t1: Threshold
        let t2: Threshold

        var description: String {
            "cores \(cores), services \(capacities), p_e \(exclusiveBP)bp, p_b \(batchBP)bp, queue \(queueCapacity)/\(timeout), "
                + "T1 \(t1), T2 \(t2)"
        }
    }

    /// Half of the scenarios use the default thresholds (the case SPEC.md §1.1 makes exact);
    /// the others a percentage or an absolute number.
    static func threshold(kind: Int, value: Int, default: Threshold) -> Threshold {
        switch kind {
        case 2: return .percent(Percentage(basisPoints: value % 10_001)!)
        case 3: return .absolute(value % 80)
        default: return `default`
        }
    }

    enum Step {
        case admit(Int), admitOrWait(Int), release(Int), flip(Int), setLimit(Int), reconfigure(Int, Int)
        case tick(Duration), spill(Int), cancel(Int)

        init(selector: Int, value: Int, cores: Int) {
            switch selector {
            case 0..<28: self = .admit(value % cores)
            case 28..<40: self = .admitOrWait(value % cores)
            case 40..<72: self = .release(value % cores)
            case 72..<78: self = .flip(value)
            case 78..<82: self = .setLimit(value % 160)
            case 82..<85: self = .reconfigure(value % 10_001, (value * 7_919) % 4_001)
            case 85..<92: self = .tick(.milliseconds(value % 3_000))
            case 92..<97: self = .spill(value % cores)
            default: self = .cancel(value)
            }
        }
    }

    /// The caller's view: what it holds open per core and what waits, in order.
    struct Model {
        var open: [Int]
        var waiting: [(waiter: Waiter, deadline: Duration)] = []
        var now: Duration = .zero
        var nextTicket: UInt64 = 0
    }

    @Test func invariantsHoldAfterEveryStep() async {
        await propertyCheck(
            count: 250,
            input: Gen.int(in: 1...8), Gen.int(in: 0...60).array(of: 1...4), Gen.int(in: 0...10_000),
            Gen.int(in: 0...4_000), Gen.int(in: 0...4), Gen.int(in: 1...5_000),
            zip(Gen.int(in: 0...99), Gen.int(in: 0...100_000)).array(of: 0...300),
            zip(Gen.int(in: 0...3), Gen.int(in: 0...10_000), Gen.int(in: 0...3), Gen.int(in: 0...10_000))
        ) { cores, capacities, exclusiveBP, batchBP, queueCapacity, timeoutMs, rawSteps, thresholds in
            let scenario = Scenario(cores: cores, capacities: capacities, exclusiveBP: exclusiveBP, batchBP: batchBP,
                                    queueCapacity: queueCapacity, timeout: .milliseconds(timeoutMs),
                                    t1: Self.threshold(kind: thresholds.0, value: thresholds.1, default: .percent(.hundred)),
                                    t2: Self.threshold(kind: thresholds.2, value: thresholds.3, default: .absolute(0)))
            try run(scenario, steps: rawSteps.map { Step(selector: $0.0, value: $0.1, cores: cores) })
        }
    }

    /// Requests routed as the data plane routes them (the spillover rule, then admission),
    /// mostly arrivals so that pools run dry, with releases and limit changes mixed in:
    /// - no spill or refusal while the requesting core holds unused quota;
    /// - with default thresholds, a core spills only when it could not admit the request,
    ///   and every core spills only when L uses are in place (never earlier).
    @Test func noSpillOrRefusalWhileTheCoreHoldsUnusedQuota() async {
        await propertyCheck(
            count: 300,
            input: Gen.int(in: 1...6), Gen.int(in: 0...150), Gen.int(in: 0...10_000), Gen.int(in: 0...5_000),
            zip(Gen.int(in: 0...3), Gen.int(in: 0...10_000), Gen.int(in: 0...3), Gen.int(in: 0...10_000)),
            zip(Gen.int(in: 0...99), Gen.int(in: 0...100_000)).array(of: 0...400)
        ) { cores, limit, exclusiveBP, batchBP, thresholds, rawSteps in
            let config = PoolConfig(
                limit: limit, cores: cores, exclusivePercent: Percentage(basisPoints: exclusiveBP)!,
                batchPercent: Percentage(basisPoints: batchBP)!,
                t1: Self.threshold(kind: thresholds.0, value: thresholds.1, default: .percent(.hundred)),
                t2: Self.threshold(kind: thresholds.2, value: thresholds.3, default: .absolute(0)))
            try route(config, steps: rawSteps)
        }
    }

    /// Steps: (selector, value); selector < 70 routes a request, < 97 releases, else a new limit.
    func route(_ config: PoolConfig, steps: [(Int, Int)]) throws {
        let cores = config.cores
        let defaults = config.t1 == .percent(.hundred) && config.t2 == .absolute(0)
        let quota = try VServerQuota(config)
        var open = Array(repeating: 0, count: cores)
        for (index, (selector, value)) in steps.enumerated() {
            let core = value % cores
            let pre = quota.inspect()
            switch selector {
            case 0..<70:
                let unused = unusedOwnQuota(pre, core: core)
                if quota.spilloverDecision(core: core) == .backup {
                    #expect(unused == 0, "step \(index): spilled while core \(core) holds \(unused) unused")
                    if defaults {
                        #expect(predictAdmission(pre, core: core, yieldToWaiters: true) == nil,
                                "step \(index): spilled a request core \(core) could admit")
                    }
                } else {
                    let answer = quota.admit(core: core)
                    if answer.isAdmitted { open[core] += 1 }
                    #expect(answer.isAdmitted || unused == 0, "step \(index): refused while core \(core) holds \(unused) unused")
                }
            case 0..<97:
                guard let owner = ([core] + Array(0..<cores)).first(where: { open[$0] > 0 }) else { continue }
                quota.release(core: owner)
                open[owner] -= 1
            default:
                try quota.updateLimit(value % 160)
            }
            let post = quota.inspect()
            #expect(post.ledgerBalances && post.coresConsistent && post.withinLimitOrPaused, "step \(index)")
            #expect(post.cores.map(\.inUse) == open, "step \(index)")
            let everyCoreSpills = (0..<cores).allSatisfy { core in
                unusedOwnQuota(post, core: core) == 0 && post.cores[core].inUse >= post.sizing.t1
                    && post.sharedAvailable <= post.sizing.t2
            }
            if defaults && everyCoreSpills && !post.overLimit {
                #expect(post.totalInUse == post.sizing.limit, "step \(index): every core spills below L")
            }
        }
    }

    func run(_ scenario: Scenario, steps: [Step]) throws {
        var services = try ServiceCapacities(scenario.capacities.enumerated().map {
            .init(name: "s\($0.offset)", capacity: $0.element)
        })
        var config = PoolConfig(limit: services.limit, cores: scenario.cores,
                                exclusivePercent: Percentage(basisPoints: scenario.exclusiveBP)!,
                                batchPercent: Percentage(basisPoints: scenario.batchBP)!,
                                t1: scenario.t1, t2: scenario.t2)
        let policy: QueuePolicy = scenario.queueCapacity == 0
            ? .refuse : .wait(capacity: scenario.queueCapacity, timeout: scenario.timeout)
        let quota = try VServerQuota(config, queue: policy)
        var model = Model(open: Array(repeating: 0, count: scenario.cores))

        for (index, step) in steps.enumerated() {
            let pre = quota.inspect()
            var admittedSomething = false
            switch step {
            case .admit(let core):
                let answer = quota.admit(core: core)
                let expected = predictAdmission(pre, core: core, yieldToWaiters: true)
                if let expected {
                    #expect(answer == .admitted(expected), "step \(index)")
                    model.open[core] += 1
                    admittedSomething = true
                } else {
                    #expect(!answer.isAdmitted, "step \(index): \(answer)")
                    if case .refuse = policy { #expect(answer == .refused(expectedReason(pre, core: core))) }
                }
                if unusedOwnQuota(pre, core: core) > 0 {
                    #expect(answer.isAdmitted, "step \(index): refused while core \(core) holds unused quota")
                }
                if pre.totalInUse > pre.sizing.limit { #expect(!answer.isAdmitted, "admitted while over the limit") }

            case .admitOrWait(let core):
                let ticket = model.nextTicket
                model.nextTicket += 1
                let answer = quota.admitOrWait(core: core, ticket: ticket, now: model.now)
                let expected: WaitAdmission
                if let source = predictAdmission(pre, core: core, yieldToWaiters: true) {
                    expected = .admitted(source)
                } else if case .refuse = policy {
                    expected = .refused(expectedReason(pre, core: core))
                } else if pre.waiting == 0, let source = predictAdmission(pre, core: core, yieldToWaiters: false) {
                    expected = .admitted(source)
                } else if pre.waiting < scenario.queueCapacity {
                    expected = .queued(position: pre.waiting + 1)
                } else {
                    expected = .refused(.queueFull)
                }
                #expect(answer == expected, "step \(index)")
                if case .admitted = answer {} else {
                    #expect(unusedOwnQuota(pre, core: core) == 0, "step \(index): not admitted while core \(core) holds unused quota")
                }
                switch answer {
                case .admitted:
                    model.open[core] += 1
                    admittedSomething = true
                case .queued:
                    model.waiting.append((Waiter(core: core, ticket: ticket), model.now + scenario.timeout))
                case .refused:
                    break
                }
                if pre.totalInUse > pre.sizing.limit {
                    if case .admitted = answer { Issue.record("admitted while over the limit") }
                }

            case .release(let wanted):
                guard let core = ([wanted] + Array(0..<scenario.cores)).first(where: { model.open[$0] > 0 }) else { continue }
                let state = pre.cores[core]
                let unit = min(state.held, pre.sizing.batch)
                let spare = state.capacity - (state.inUse - 1)
                let expectedReturn = state.held > 0 && spare >= unit ? unit : 0
                let release = quota.release(core: core, now: model.now)
                #expect(release.returnedToShared == expectedReturn, "step \(index)")
                model.open[core] -= 1
                admittedSomething = apply(release.waiters, to: &model, expiring: true)

            case .flip(let value):
                guard !services.services.isEmpty else { continue }
                let service = services.services[value % services.services.count]
                try services.setUp(service.name, !service.isUp)
                config.limit = services.limit
                let update = try quota.apply(services)
                try checkPublish(pre: pre, update: update, config: config, quota: quota)
                admittedSomething = apply(update.waiters, to: &model, expiring: false)

            case .setLimit(let limit):
                config.limit = limit
                let update = try quota.updateLimit(limit)
                try checkPublish(pre: pre, update: update, config: config, quota: quota)
                admittedSomething = apply(update.waiters, to: &model, expiring: false)

            case .reconfigure(let exclusiveBP, let batchBP):
                config.exclusivePercent = Percentage(basisPoints: exclusiveBP)!
                config.batchPercent = Percentage(basisPoints: batchBP)!
                let update = try quota.reconfigure(config)
                try checkPublish(pre: pre, update: update, config: config, quota: quota)
                admittedSomething = apply(update.waiters, to: &model, expiring: false)

            case .tick(let duration):
                model.now += duration
                admittedSomething = apply(quota.serveWaiters(now: model.now), to: &model, expiring: true)

            case .spill(let core):
                let unused = unusedOwnQuota(pre, core: core)
                let expected = unused == 0 && pre.cores[core].inUse >= pre.sizing.t1
                    && pre.sharedAvailable <= pre.sizing.t2
                let decision = quota.spilloverDecision(core: core)
                #expect(decision == (expected ? .backup : .primary), "step \(index)")
                if unused > 0 {
                    #expect(decision == .primary, "step \(index): spilled while core \(core) holds \(unused) unused")
                }
                if decision == .backup && scenario.t1 == .percent(.hundred) && scenario.t2 == .absolute(0) {
                    // Default thresholds: a core spills only when it could not admit the request.
                    #expect(predictAdmission(pre, core: core, yieldToWaiters: false) == nil, "step \(index)")
                }

            case .cancel(let value):
                guard !model.waiting.isEmpty else { continue }
                let (waiter, _) = model.waiting.remove(at: value % model.waiting.count)
                #expect(quota.cancelWaiter(waiter))
            }

            let post = quota.inspect()
            #expect(post.ledgerBalances, "step \(index) \(step): S_available + held != S")
            #expect(post.coresConsistent, "step \(index) \(step)")
            #expect(post.withinLimitOrPaused, "step \(index) \(step): over the limit without pausing")
            #expect(post.cores.map(\.inUse) == model.open, "step \(index) \(step)")
            #expect(quota.waiters == model.waiting.map(\.waiter), "step \(index) \(step)")
            if admittedSomething {
                #expect(post.totalInUse <= post.sizing.limit, "step \(index) \(step): an admission exceeded the limit")
            }
        }

        // Everything ends: the pool is whole again and nothing stays held or paused.
        for (waiter, _) in model.waiting { #expect(quota.cancelWaiter(waiter)) }
        for core in 0..<scenario.cores {
            for _ in 0..<model.open[core] { quota.release(core: core) }
        }
        let end = quota.inspect()
        #expect(end.totalInUse == 0 && end.totalHeld == 0)
        #expect(end.sharedAvailable == end.sizing.sharedPool)
        for core in 0..<scenario.cores where end.sizing.perCoreExclusive > 0 || end.sizing.sharedPool >= end.sizing.batch {
            #expect(quota.admit(core: core).isAdmitted, "core \(core) cannot admit after everything ended")
            quota.release(core: core)
        }
    }

    /// SPEC.md §1.1's admission rule applied to the state before the step.
    func predictAdmission(_ state: QuotaState, core: Int, yieldToWaiters: Bool) -> AdmissionSource? {
        let mine = state.cores[core]
        if mine.paused && state.sharedAvailable < 0 { return nil }
        if mine.inUse < mine.capacity { return mine.inUse < mine.exclusive ? .exclusive : .heldBatch }
        if yieldToWaiters && state.waiting > 0 { return nil }
        return state.sharedAvailable >= state.sizing.batch ? .newBatch : nil
    }

    /// Borrowed quota `core` holds and does not use, which SPEC.md §1.1 counts as its own —
    /// when it may use it (not while paused over the limit).
    func unusedOwnQuota(_ state: QuotaState, core: Int) -> Int {
        let mine = state.cores[core]
        if mine.paused && state.sharedAvailable < 0 { return 0 }
        return max(0, mine.held - mine.borrowedInUse)
    }

    func expectedReason(_ state: QuotaState, core: Int) -> RefusalReason {
        state.sharedAvailable < 0 ? .overLimit : .sharedPoolExhausted
    }

    /// The publish re-classified every core exactly, re-based the pool and reported the
    /// over-limit state, with numbers computed from the configuration independently.
    func checkPublish(pre: QuotaState, update: LimitUpdate, config: PoolConfig, quota: VServerQuota) throws {
        let expected = try PoolSizing(config)
        #expect(update.sizing == expected)
        #expect(update.generation == pre.generation + 1)
        guard update.waiters.served.isEmpty else { return }   // serving moved quota afterwards
        let post = quota.inspect()
        var taken = 0
        for (before, after) in zip(pre.cores, post.cores) {
            #expect(after.inUse == before.inUse, "a publish revoked a use")
            #expect(after.held == max(0, before.inUse - expected.perCoreExclusive))
            taken += after.held - before.held
        }
        #expect(post.sharedAvailable == pre.sharedAvailable + (expected.sharedPool - pre.sizing.sharedPool) - taken)
        #expect(update.overLimit == (post.sharedAvailable < 0))
        // Paused exactly when over: every core flagged, or none.
        #expect(post.cores.allSatisfy { $0.paused == update.overLimit })
    }

    /// Checks a waiter update against the model (FIFO, deadlines) and applies it.
    /// Returns whether anything was admitted.
    func apply(_ update: WaiterUpdate, to model: inout Model, expiring: Bool) -> Bool {
        if expiring {
            let due = model.waiting.filter { $0.deadline <= model.now }.map(\.waiter)
            #expect(update.expired == due, "expired waiters")
            model.waiting.removeAll { $0.deadline <= model.now }
        } else {
            #expect(update.expired.isEmpty)
        }
        let served = update.served.map(\.waiter)
        #expect(Array(model.waiting.prefix(served.count).map(\.waiter)) == served, "served out of order")
        model.waiting.removeFirst(min(served.count, model.waiting.count))
        for waiter in served { model.open[waiter.core] += 1 }
        return !served.isEmpty
    }
}
