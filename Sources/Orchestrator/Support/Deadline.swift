import Synchronization

/// The operation did not finish within its deadline.
package struct DeadlineExceeded: Error, CustomStringConvertible {
    package let what: String
    package let after: Duration
    package var description: String { "\(what): no answer within \(after)" }
}

/// Runs `operation` and returns its result, or throws ``DeadlineExceeded`` once `limit` has
/// passed — without waiting for it: a libvirt or SSH call blocked on a vanished host cannot
/// be interrupted, so it is cancelled and left to finish on its own (its result is dropped).
/// What a caller that must stay responsive (the monitor, `status`) uses around each host.
package func withDeadline<T: Sendable>(_ limit: Duration, _ what: String,
                                       _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = DeadlineRace<T>()
    let work = Task { race.finish(await Result(catching: { try await operation() })) }
    let timer = Task {
        try? await Task.sleep(for: limit)
        race.finish(.failure(DeadlineExceeded(what: what, after: limit)))
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { race.wait($0) }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first result wins; later ones are dropped.
private final class DeadlineRace<T: Sendable>: Sendable {
    private enum Phase {
        case pending
        case waiting(CheckedContinuation<T, any Error>)
        case done(Result<T, any Error>)
        case delivered
    }
    private let phase = Mutex(Phase.pending)

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = phase.withLock { p -> Result<T, any Error>? in
            if case .done(let result) = p {
                p = .delivered
                return result
            }
            p = .waiting(continuation)
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func finish(_ result: Result<T, any Error>) {
        let waiter = phase.withLock { p -> CheckedContinuation<T, any Error>? in
            switch p {
            case .pending:
                p = .done(result)
                return nil
            case .waiting(let continuation):
                p = .delivered
                return continuation
            case .done, .delivered:
                return nil
            }
        }
        waiter?.resume(with: result)
    }
}

extension Result where Failure == any Error {
    /// The async form of `Result(catching:)`.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
