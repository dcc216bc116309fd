import Dispatch
import Foundation

/// A bounded set of threads for blocking calls (libvirt, git) that async code must not make
/// on Swift's cooperative pool or a NIO event loop; modelled on NIOThreadPool's
/// `runIfActive`, without depending on NIO. Its state is behind pthread mutexes (``Locked``)
/// so that ThreadSanitizer can check it.
///
/// - At most `maximumThreads` bodies run at once; further work waits in a FIFO queue.
///   Threads start when work arrives and leave after `idleTimeout` without any.
/// - Work whose task is cancelled before a thread starts it is never run: ``run(_:)`` throws
///   `CancellationError` as soon as the task is cancelled, even while every thread is busy.
/// - Work that has started runs to the end (a blocking C call cannot be interrupted) and
///   its result or error is delivered, cancelled or not.
public final class BlockingWorkPool: Sendable {
    /// The most bodies that run at the same time.
    public let maximumThreads: Int
    /// The threads' name (Linux keeps the first 15 characters).
    public let name: String
    private let idleTimeout: DispatchTimeInterval
    private let state: Locked<State>
    /// One signal per idle thread woken for new work (see `State.idle`).
    private let wakeups = DispatchSemaphore(value: 0)

    /// - Precondition: `maximumThreads > 0` (traps otherwise).
    public init(name: String, maximumThreads: Int = 8, idleTimeout: Duration = .seconds(30)) {
        precondition(maximumThreads > 0, "a BlockingWorkPool needs at least one thread")
        self.name = name
        self.maximumThreads = maximumThreads
        let (seconds, attoseconds) = idleTimeout.components
        let nanoseconds = max(0, Double(seconds) * 1e9 + Double(attoseconds) / 1e9)
        self.idleTimeout = nanoseconds < Double(Int.max) ? .nanoseconds(Int(nanoseconds)) : .never
        self.state = Locked(State())
    }

    /// Runs `body` on one of the pool's threads and returns what it returned or throws what
    /// it threw. Throws `CancellationError` without running `body` when the calling task is
    /// cancelled before a thread picks the work up.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        let job = Job(body)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if job.enqueue(continuation) {
                    submit { job.runIfActive() }
                }
            }
        } onCancel: {
            job.cancel()
        }
    }

    /// Threads currently alive (running work or idle), for tests.
    var threadCount: Int { state.withLock { $0.threads } }

    // MARK: Threads

    private struct State {
        /// FIFO of submitted work; slots before `head` were taken and are nil.
        var queue: [(@Sendable () -> Void)?] = []
        var head = 0
        var threads = 0
        /// Threads waiting on `wakeups` that no signal has been sent for yet.
        var idle = 0

        mutating func pop() -> (@Sendable () -> Void)? {
            guard head < queue.count else { return nil }
            let work = queue[head]
            queue[head] = nil
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 64, head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return work
        }
    }

    private enum Wake { case idleThread, newThread, none }

    private func submit(_ work: @escaping @Sendable () -> Void) {
        let wake = state.withLock { state -> Wake in
            state.queue.append(work)
            if state.idle > 0 {
                state.idle -= 1
                return .idleThread
            }
            if state.threads < maximumThreads {
                state.threads += 1
                return .newThread
            }
            return .none // every thread is busy; the first to finish takes it
        }
        switch wake {
        case .idleThread: wakeups.signal()
        case .newThread: startThread()
        case .none: break
        }
    }

    private func startThread() {
        // The thread keeps the pool alive until it leaves (after `idleTimeout` without work).
        let thread = Thread { [self] in self.process() }
        thread.name = name
        thread.start()
    }

    private func process() {
        while true {
            let next = state.withLock { state -> (@Sendable () -> Void)? in
                if let work = state.pop() { return work }
                state.idle += 1
                return nil
            }
            if let next {
                next()
                continue
            }
            while wakeups.wait(timeout: .now() + idleTimeout) == .timedOut {
                let leave = state.withLock { state -> Bool in
                    // With `idle` at zero every waiting thread, this one included, has a
                    // signal on its way: stay and take it, or that work would be stranded.
                    guard state.idle > 0 else { return false }
                    state.idle -= 1
                    state.threads -= 1
                    return true
                }
                if leave { return }
            }
        }
    }
}

/// One call submitted to a ``BlockingWorkPool`` and the task waiting for it. Whoever moves
/// it out of `.queued` owns the continuation and resumes it exactly once: the thread that
/// starts it, or the cancellation handler if the task is cancelled first.
private final class Job<T: Sendable>: Sendable {
    private enum Phase {
        case created
        case queued(CheckedContinuation<T, any Error>)
        case started
        case cancelled
    }

    private let body: @Sendable () throws -> T
    private let phase = Locked(Phase.created)

    init(_ body: @escaping @Sendable () throws -> T) { self.body = body }

    /// Parks the continuation; false (after failing it) when the task was already cancelled.
    func enqueue(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let queued = phase.withLock { phase -> Bool in
            guard case .created = phase else { return false }
            phase = .queued(continuation)
            return true
        }
        if !queued { continuation.resume(throwing: CancellationError()) }
        return queued
    }

    /// On a pool thread: runs the body unless the task was cancelled while it waited.
    func runIfActive() {
        let continuation = phase.withLock { phase -> CheckedContinuation<T, any Error>? in
            guard case .queued(let continuation) = phase else { return nil }
            phase = .started
            return continuation
        }
        guard let continuation else { return } // cancelled: its task has been told already
        continuation.resume(with: Result(catching: body))
    }

    /// From the cancellation handler: fails a waiting call at once; a started one finishes.
    func cancel() {
        let continuation = phase.withLock { phase -> CheckedContinuation<T, any Error>? in
            switch phase {
            case .created:
                phase = .cancelled
                return nil
            case .queued(let continuation):
                phase = .cancelled
                return continuation
            case .started, .cancelled:
                return nil
            }
        }
        continuation?.resume(throwing: CancellationError())
    }
}
