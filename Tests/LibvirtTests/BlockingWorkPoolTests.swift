import Dispatch
@testable import Libvirt
import Testing

@Suite struct BlockingWorkPoolTests {
    struct Failure: Error, Equatable { var code: Int }

    /// How many bodies run now, and the most that ever ran at once.
    final class Gauge: Sendable {
        private let counts = Locked((running: 0, peak: 0))
        func enter() { counts.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running) } }
        func leave() { counts.withLock { $0.running -= 1 } }
        var running: Int { counts.withLock { $0.running } }
        var peak: Int { counts.withLock { $0.peak } }
    }

    final class Flag: Sendable {
        private let value = Locked(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(within timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    @Test func deliversResultsAndErrors() async throws {
        let pool = BlockingWorkPool(name: "t.results", maximumThreads: 2)
        #expect(try await pool.run { 6 * 7 } == 42)
        await #expect(throws: Failure(code: 7)) { try await pool.run { () throws -> Int in throw Failure(code: 7) } }
    }

    @Test func neverRunsMoreThanItsThreadsAtOnce() async throws {
        let pool = BlockingWorkPool(name: "t.bounded", maximumThreads: 3)
        let gauge = Gauge()
        let gate = DispatchSemaphore(value: 0)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<10 {
                group.addTask {
                    try await pool.run {
                        gauge.enter()
                        defer { gauge.leave() }
                        gate.wait()
                        return i
                    }
                }
            }
            // Three bodies start and block; the other seven wait in the queue. (Generous: in a
            // parallel run, other suites' blocking work can hold the cooperative threads these
            // tasks need just to reach the pool.)
            #expect(await Self.eventually(within: .seconds(60)) { gauge.running == 3 })
            try await Task.sleep(for: .milliseconds(100))
            #expect(gauge.running == 3)
            #expect(pool.threadCount == 3)
            for _ in 0..<10 { gate.signal() }
            var results: [Int] = []
            for try await result in group { results.append(result) }
            #expect(results.sorted() == Array(0..<10))
        }
        #expect(gauge.peak == 3)
    }

    @Test func manyMoreCallsThanThreadsAllComplete() async throws {
        let pool = BlockingWorkPool(name: "t.many", maximumThreads: 2)
        let gauge = Gauge()
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<500 {
                group.addTask {
                    try await pool.run {
                        gauge.enter()
                        defer { gauge.leave() }
                        return i
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == (0..<500).reduce(0, +))
        #expect(gauge.peak <= 2)
        #expect(pool.threadCount <= 2)
    }

    @Test func aTaskCancelledBeforeSubmittingDoesNotRunItsBody() async throws {
        let pool = BlockingWorkPool(name: "t.precancel", maximumThreads: 1)
        let ran = Flag()
        let task = Task {
            // Wait until cancelled, then submit.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(10)) }
            return try await pool.run { ran.set() }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // Anything queued before runs before this: the body above had its chance.
        try await pool.run {}
        #expect(!ran.isSet)
    }

    @Test func aTaskCancelledWhileQueuedReturnsAtOnceAndItsBodyIsSkipped() async throws {
        let pool = BlockingWorkPool(name: "t.queued", maximumThreads: 1)
        let gate = DispatchSemaphore(value: 0)
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let blocker = Task {
            try await pool.run {
                startedContinuation.yield()
                gate.wait()
            }
        }
        var startedEvents = started.makeAsyncIterator()
        await startedEvents.next()

        // The only thread is busy: this call waits in the queue.
        let ran = Flag()
        let queued = Task { try await pool.run { ran.set() } }
        try await Task.sleep(for: .milliseconds(50))
        queued.cancel()
        // Answered while the only thread is still blocked (the gate opens below), so the
        // cancellation did not wait for a thread to pick the call up.
        await #expect(throws: CancellationError.self) { try await queued.value }

        gate.signal()
        try await blocker.value
        try await pool.run {}
        #expect(!ran.isSet)
    }

    @Test func startedWorkFinishesAndDeliversItsResultWhenCancelled() async throws {
        let pool = BlockingWorkPool(name: "t.started", maximumThreads: 1)
        let gate = DispatchSemaphore(value: 0)
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            try await pool.run { () -> Int in
                startedContinuation.yield()
                gate.wait()
                return 42
            }
        }
        var startedEvents = started.makeAsyncIterator()
        await startedEvents.next()
        task.cancel()
        gate.signal()
        #expect(try await task.value == 42)
    }

    @Test func idleThreadsLeaveAndComeBackForNewWork() async throws {
        let pool = BlockingWorkPool(name: "t.idle", maximumThreads: 2, idleTimeout: .milliseconds(200))
        #expect(try await pool.run { 1 } == 1)
        #expect(pool.threadCount <= 1)
        #expect(await Self.eventually { pool.threadCount == 0 })
        // No thread left: this call is answered only if a new one starts.
        #expect(try await pool.run { 2 } == 2)
        #expect(pool.threadCount <= 1)
    }

    @Test func libvirtExecutorRunsOnItsPool() async throws {
        #expect(LibvirtExecutor.pool.maximumThreads == 8)
        let hostname = try await LibvirtExecutor.run { try LibvirtConnection(uri: "test:///default").hostname }
        #expect(!hostname.isEmpty)
    }
}
