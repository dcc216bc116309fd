import Dispatch
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Runs a `TrafficManager` as a swift-service-lifecycle service: starts it, samples usage,
/// reloads the configuration file on SIGHUP, and on graceful shutdown (SIGTERM/SIGINT through
/// the service group) stops accepting and drains (bounded by the drain timeout).
public struct TrafficManagerService: Service {
    public let manager: TrafficManager

    public init(manager: TrafficManager) {
        self.manager = manager
    }

    public func run() async throws {
        try await manager.start()
        let hangups = HangupSignals()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await manager.runUsageSampler() }
            group.addTask {
                for await _ in hangups.stream {
                    do {
                        try await manager.reloadFromFile()
                    } catch {
                        manager.logger.error("reload refused; the configuration in force stays", metadata: ["cvm.error": "\(error)"])
                    }
                }
            }
            try? await gracefulShutdown()
            hangups.stop()
            group.cancelAll()
        }
        await manager.shutdown()
    }
}

/// SIGHUP as an async stream (Dispatch's signal source; the signal's default action is
/// ignored while it exists).
///
/// `@unchecked Sendable`: the stored properties are immutable, and a Dispatch source may be
/// cancelled from any thread (Dispatch does not annotate it as `Sendable`).
final class HangupSignals: @unchecked Sendable {
    let stream: AsyncStream<Void>
    private let source: any DispatchSourceSignal
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        signal(SIGHUP, SIG_IGN)
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.stream = stream
        self.continuation = continuation
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
    }

    func stop() {
        source.cancel()
        continuation.finish()
    }
}
