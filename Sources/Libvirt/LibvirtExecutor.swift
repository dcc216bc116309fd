/// Where async code makes blocking libvirt calls: never on a NIO event loop or Swift's
/// cooperative pool, but on one process-wide ``BlockingWorkPool``, so a slow or hung daemon
/// ties up at most its threads and a cancelled task's calls that have not started are
/// dropped.
public enum LibvirtExecutor {
    /// The pool behind ``run(_:)``: 8 threads (a migration, its progress polls and an abort
    /// can each hold one while heartbeats and deploys go on).
    public static let pool = BlockingWorkPool(name: "cvm.libvirt", maximumThreads: 8)

    /// Runs `body` on ``pool``; see ``BlockingWorkPool/run(_:)`` for what cancellation does.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.run(body)
    }
}
