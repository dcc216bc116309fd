import NIOCore

/// One connection to a service, speaking HTTP/1.1 for the requests of HTTP sessions
/// (`routing: request`). While a request uses it, it belongs to that session (`session`);
/// between requests it waits in its core's `BackendPool`. It reads the service's responses
/// with `HTTP1Head` and `HTTP1BodyFramer` and hands the session the head and the body's bytes
/// as they arrive. Loop-bound: one core's loop.
final class HTTPBackend: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let service: ServiceRuntime
    private weak var core: CoreRuntime?
    /// The session whose request uses this connection (nil while pooled).
    var session: HTTPSession?
    /// When it went back to the pool (monotonic ns).
    var idleSince: UInt64 = 0
    private var context: ChannelHandlerContext?
    private var isGone = false

    // The response being read.
    private var inbound: ByteBuffer?
    private var toHEAD = false
    /// How far the incomplete head in `inbound` has been searched for its end.
    private var headScanned = 0
    /// nil while the head is read.
    private var framer: HTTP1BodyFramer?
    private var passing = HTTP1Head.BodyPassing.asIs
    /// Whether the connection may carry another request once this response has ended.
    private var reusable = false

    init(service: ServiceRuntime, core: CoreRuntime) {
        self.service = service
        self.core = core
    }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Sends a request's head (as written on by `HTTP1Head.writeRequest`) and expects its
    /// response.
    func send(head: ByteBuffer, toHEAD: Bool) {
        self.toHEAD = toHEAD
        framer = nil
        inbound = nil
        headScanned = 0
        context?.write(wrapOutboundOut(head), promise: nil)
    }

    /// Sends request body bytes (framed as the client framed them).
    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

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
        gone()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard session != nil else {
            // A pooled connection has nothing to say: one that speaks is not safe to reuse.
            context.close(promise: nil)
            return
        }
        var buffer = unwrapInboundIn(data)
        inbound.append(&buffer)
        do {
            try readResponse()
        } catch {
            // A response that does not parse: the connection cannot be trusted with anything.
            context.close(promise: nil)
        }
    }

    /// Reads what `inbound` holds of the response: its head (and any 1xx before it), then its
    /// body, handed to the session as it comes.
    private func readResponse() throws(HTTP1Head.Failure) {
        while let session, var input = inbound, input.readableBytes > 0 {
            inbound = nil
            guard var framer else {
                guard let head = try HTTP1Head.parseResponse(&input, toHEAD: toHEAD, scanned: &headScanned) else {
                    inbound = input
                    return
                }
                inbound = input
                if head.status == 101 { throw .malformed("a protocol switch that was not asked for") }
                passing = session.backendHead(head)
                if head.status >= 200 {
                    reusable = head.keepAlive && head.framing != .untilClose
                    self.framer = HTTP1BodyFramer(head.framing)
                    if self.framer?.isDone == true { responseEnded() }
                }
                continue
            }
            let passing = passing
            var ranges: [Range<Int>] = []
            let (count, ended) = try input.withReadableBytes { (raw) throws(HTTP1Head.Failure) in
                try framer.consume(raw) { range in if passing == .unchunk { ranges.append(range) } }
            }
            self.framer = framer
            let consumed = input.readSlice(length: count)!
            inbound = input
            if passing == .unchunk {
                for range in ranges where !range.isEmpty {
                    session.backendBody(consumed.getSlice(at: consumed.readerIndex + range.lowerBound, length: range.count)!)
                }
            } else if count > 0 {
                session.backendBody(consumed)
            }
            if ended { responseEnded() }
        }
    }

    /// The response has ended: bytes after it make the connection unfit for another request.
    private func responseEnded() {
        framer = nil
        let leftover = inbound?.readableBytes ?? 0
        inbound = nil
        session?.backendEnded(reusable: reusable && leftover == 0)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session?.backendReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { session?.backendBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            // The service's end ends a response delimited by it; nothing more comes either way.
            endResponseByClose()
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        endResponseByClose()
        gone()
        context.fireChannelInactive()
    }

    private func endResponseByClose() {
        guard framer?.isUntilClose == true else { return }
        reusable = false
        responseEnded()
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
