/// Runs `operation` to its end even when the calling task is cancelled, and waits for it.
///
/// For work that must finish once started whatever happens to the caller: a rollback (which
/// runs *because* the task was cancelled) and the bookkeeping after a point of no return. The
/// async store API, like GRDB's, throws `CancellationError` in a cancelled task; inside
/// `operation` it does not. The operation runs in a new task, which inherits priority and
/// task-locals but not the caller's cancellation. (What the proposed task cancellation
/// shields would do without the extra task.)
@discardableResult
package func withoutCancellation<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await operation() }.value
}
