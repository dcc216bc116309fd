import NIOCore
import NIOHTTP1

/// One connection to a service, speaking HTTP/1.1 for the requests of HTTP sessions
/// (`routing: request`). While a request uses it, it belongs to that session (`session`);
/// between requests it waits in its core's `BackendPool`. Loop-bound: one core's loop.
final class HTTPBackend: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let service: ServiceRuntime
    private weak var core: CoreRuntime?
    /// The session whose request uses this connection (nil while pooled).
    var session: HTTPSession?
    /// When it went back to the pool (monotonic ns).
    var idleSince: UInt64 = 0
    private var context: ChannelHandlerContext?
    private var isGone = false

    init(service: ServiceRuntime, core: CoreRuntime) {
        self.service = service
        self.core = core
    }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func write(_ part: HTTPClientRequestPart) {
        writing = true
        context?.write(wrapOutboundOut(part), promise: nil)
        writing = false
    }

    /// Set when the request validator refused what was written (an error raised within the
    /// write): the request itself is at fault, not the service.
    private(set) var refusedRequest = false
    private var writing = false

    func flush() { context?.flush() }

    func close() { context?.close(promise: nil) }

    /// Pauses or resumes reading the service's response (the client reads slower than the
    /// service sends).
    func setReading(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        try? context?.channel.syncOptions?.setOption(.autoRead, value: on)
    }

    private var reading = true

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A channel closed from within a write (the request validator refusing a head) may
        // remove its handlers without a `channelInactive` reaching this one.
        gone()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else {
            // A pooled connection has nothing to say: one that speaks is not safe to reuse.
            context.close(promise: nil)
            return
        }
        session.backendRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session?.backendReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { session?.backendBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The decoder in front has ended a response delimited by the close; nothing more comes.
        if case .inputClosed = event as? ChannelEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone()
        context.fireChannelInactive()
    }

    /// The connection ended: its session hears of it, or the pool forgets it. Idempotent.
    private func gone() {
        guard !isGone else { return }
        isGone = true
        if let session {
            self.session = nil
            session.backendClosed(self)
        } else {
            core?.backendPool.remove(self)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if writing { refusedRequest = true }
        context.close(promise: nil)
    }
}

/// The idle service connections of one core, per service, for HTTP sessions to reuse.
/// Loop-bound (a field of `CoreRuntime`).
struct BackendPool {
    private var idle: [ObjectIdentifier: [HTTPBackend]] = [:]
    /// Idle connections kept per service and core; more are closed.
    static let limitPerService = 256
    /// How long an idle connection is kept.
    static let maxIdleNanos: UInt64 = 10_000_000_000

    /// An open idle connection to `service`, if there is one.
    mutating func take(_ service: ServiceRuntime) -> HTTPBackend? {
        let key = ObjectIdentifier(service)
        while let backend = idle[key]?.popLast() {
            if backend.isActive { return backend }
        }
        return nil
    }

    /// Keeps `backend` for reuse; false when the pool is full (the caller closes it).
    mutating func put(_ backend: HTTPBackend, now: UInt64) -> Bool {
        let key = ObjectIdentifier(backend.service)
        guard (idle[key]?.count ?? 0) < Self.limitPerService, backend.service.isUp else { return false }
        backend.idleSince = now
        idle[key, default: []].append(backend)
        return true
    }

    /// Forgets a pooled connection that closed.
    mutating func remove(_ backend: HTTPBackend) {
        let key = ObjectIdentifier(backend.service)
        idle[key]?.removeAll { $0 === backend }
        if idle[key]?.isEmpty == true { idle[key] = nil }
    }

    /// Takes out the connections idle for too long or to services that are down, or all of
    /// them, for the caller to close (closing calls back into the pool).
    mutating func sweep(now: UInt64, all: Bool) -> [HTTPBackend] {
        var stale: [HTTPBackend] = []
        for (key, backends) in idle {
            let keep = backends.filter { !all && $0.service.isUp && now &- $0.idleSince < Self.maxIdleNanos }
            if keep.count != backends.count {
                stale += backends.filter { backend in !keep.contains { $0 === backend } }
                idle[key] = keep.isEmpty ? nil : keep
            }
        }
        return stale
    }

    var count: Int { idle.values.reduce(0) { $0 + $1.count } }
}
