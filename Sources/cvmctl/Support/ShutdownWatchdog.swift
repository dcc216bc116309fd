import Dispatch
import Foundation

/// Bounds a graceful shutdown: once SIGTERM or SIGINT arrives, the process has `seconds` to
/// finish (the service group drains as usual); past that it says why on stderr and exits 1.
/// A libvirt call that never returns (a wedged connection) cannot be cancelled, and without
/// this an operator's Ctrl-C would wait for it forever.
///
/// `@unchecked Sendable`: the Dispatch sources are only touched at creation and by their
/// own serial queue.
final class ShutdownWatchdog: @unchecked Sendable {
    private let queue = DispatchQueue(label: "cvm.shutdown-watchdog")
    private var sources: [any DispatchSourceSignal] = []
    private var timer: (any DispatchSourceTimer)?

    init(seconds: Double, what: String) {
        for signo in [SIGTERM, SIGINT] {
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { [unowned self] in
                guard timer == nil else { return }
                let timer = DispatchSource.makeTimerSource(queue: queue)
                timer.schedule(deadline: .now() + seconds)
                timer.setEventHandler {
                    FileHandle.standardError.write(Data("cvmctl: error: \(what) did not stop within \(Int(seconds)) s of the signal (a libvirt call did not return); exiting\n".utf8))
                    _exit(1)
                }
                timer.resume()
                self.timer = timer
            }
            source.resume()
            sources.append(source)
        }
    }
}
