import Dispatch
import Foundation
import ServiceLifecycle

/// The last resort of a shutdown: once the service group starts shutting down (a signal, a
/// service that ended, a cancellation), the process has `deadline` to be gone; past that it
/// says why on stderr and exits 1. Set it a little beyond the group's
/// `maximumGracefulShutdownDuration`, which first turns a slow graceful shutdown into
/// cancellation (deploys roll back, migrations abort): what is left after that is a libvirt
/// call that never returns (a wedged connection), which nothing can cancel, and without this
/// an operator's Ctrl-C would wait for it forever.
///
/// A `Service` listed last in the group, so that it is the first to hear of the shutdown: its
/// `run()` returns at once then, and the clock — a Dispatch timer, which runs whatever the
/// Swift tasks are waiting for — keeps going until the process exits.
struct ShutdownWatchdog: Service {
    let deadline: Duration
    /// What is shutting down, for the message: `the monitor`, `elastic mode`.
    let what: String
    /// What happens at the deadline (tests record it instead of exiting).
    let expire: @Sendable (String) -> Void

    init(deadline: Duration, what: String, expire: @escaping @Sendable (String) -> Void = ShutdownWatchdog.exit) {
        self.deadline = deadline
        self.what = what
        self.expire = expire
    }

    func run() async throws {
        // Graceful shutdown, or the group's cancellation: either way the shutdown has begun.
        try? await gracefulShutdown()
        let message = "\(what) did not stop within \(deadline.components.seconds) s of the shutdown (a libvirt call did not return); exiting"
        let expire = self.expire
        let (seconds, attoseconds) = deadline.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        Self.queue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { expire(message) }
    }

    /// One error line and exit status 1, without running exit handlers (see `CVMCtl.main`).
    static let exit: @Sendable (String) -> Void = { message in
        writeAll("cvmctl: error: \(message)\n", to: 2)
        _exit(1)
    }

    private static let queue = DispatchQueue(label: "cvm.shutdown-watchdog")
}
