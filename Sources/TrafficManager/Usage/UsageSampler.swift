import Foundation
import NIOCore
import Synchronization

/// Samples every task's counters each `interval`: CPU time (each loop thread's CPU clock,
/// split by `CPUAttribution`), bytes, connections and spills become rates and levels, then
/// usage patterns and forecasts (`TaskUsageHistory`). The latest `UsageReport` is what
/// `/usage` serves (and `/metrics` renders).
final class UsageSampler: Sendable {
    let config: UsageConfig
    /// The loops whose thread CPU is read: index = core; `control` is loop -1.
    private let coreLoops: [any EventLoop]
    private let control: any EventLoop
    private let state: Mutex<State>
    private let latestReport = Mutex<UsageReport?>(nil)

    struct State {
        var histories: [String: TaskUsageHistory] = [:]
        /// Busy nanoseconds last read, by task and loop.
        var busy: [String: [Int: Int]] = [:]
        var threadCPU: [Int: UInt64] = [:]
        var processCPU: UInt64 = 0
        var lastTime: Double?
        let started: UInt64 = MonotonicTime.nanos()
    }

    init(config: UsageConfig, coreLoops: [any EventLoop], control: any EventLoop) {
        self.config = config
        self.coreLoops = coreLoops
        self.control = control
        state = Mutex(State())
    }

    var latest: UsageReport? { latestReport.withLock { $0 } }

    /// Takes one sample of `tasks` (the vServers' and monitors' usage, by name).
    @discardableResult
    func sample(tasks: [TaskUsage], generation: Int) async -> UsageReport {
        var threadCPU: [Int: UInt64] = [:]
        for (index, loop) in coreLoops.enumerated() {
            threadCPU[index] = (try? await loop.submit { CPUClock.thread() }.get()) ?? 0
        }
        threadCPU[-1] = (try? await control.submit { CPUClock.thread() }.get()) ?? 0
        let processCPU = CPUClock.process()
        let resident = CPUClock.residentMiB()
        let wall = Date().timeIntervalSince1970
        let now = Double(MonotonicTime.nanos()) / 1e9
        let report = state.withLock { state in
            let elapsed = state.lastTime.map { now - $0 } ?? 0
            var threadDelta: [Int: Double] = [:]
            for (loop, value) in threadCPU {
                threadDelta[loop] = state.threadCPU[loop].map { Double(value &- $0) } ?? 0
            }
            var busy: [CPUAttribution.Busy] = []
            var snapshots: [String: TaskCounterSnapshot] = [:]
            for task in tasks {
                snapshots[task.name] = task.snapshot
                var previous = state.busy[task.name] ?? [:]
                for (cell, loop) in zip(task.cells, task.cellLoops) {
                    let value = cell.busyNanos.load(ordering: .relaxed)
                    busy.append(.init(task: task.name, loop: loop, nanos: Double(value - (previous[loop] ?? value))))
                    previous[loop] = value
                }
                state.busy[task.name] = previous
            }
            let cpu = CPUAttribution.attribute(threadNanos: threadDelta, busy: busy)
            var reports: [TaskReport] = []
            for task in tasks {
                var history = state.histories[task.name] ?? TaskUsageHistory(window: config.window)
                history.record(snapshots[task.name]!, cpuNanos: cpu[task.name] ?? 0, at: now)
                state.histories[task.name] = history
                reports.append(history.report(name: task.name, task: task.task, kind: task.kind,
                                              horizon: config.horizon.seconds, alpha: config.alpha, beta: config.beta))
            }
            let names = Set(tasks.map(\.name))
            state.histories = state.histories.filter { names.contains($0.key) }
            state.busy = state.busy.filter { names.contains($0.key) }
            let processPercent = elapsed > 0 && state.processCPU > 0 ? Double(processCPU &- state.processCPU) / 1e9 / elapsed * 100 : 0
            state.threadCPU = threadCPU
            state.processCPU = processCPU
            state.lastTime = now
            return UsageReport(
                time: wall, uptimeSeconds: Double(MonotonicTime.nanos() &- state.started) / 1e9,
                intervalSeconds: config.interval.seconds, horizonSeconds: config.horizon.seconds, cores: coreLoops.count,
                generation: generation,
                process: ProcessUsage(cpuPercent: processPercent, cpuSeconds: Double(processCPU) / 1e9, residentMiB: resident),
                tasks: reports.sorted { $0.name < $1.name })
        }
        latestReport.withLock { $0 = report }
        return report
    }
}
