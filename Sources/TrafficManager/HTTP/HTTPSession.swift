import Glibc
import NIOCore
import NIOHTTP1
import NIOSSL
import TMSCore

/// One client connection of an HTTP vServer routed per request (`routing: request`).
///
/// NIOHTTP1 parses the client's requests (malformed ones get `400` from its error handler and
/// reach no service; pipelined ones wait in its pipeline handler until the response before
/// them has ended). Each request walks the backup chain — with `quotaCounts: requests` it holds
/// one use of the admitting vServer's quota until its response ends; with `connections` the
/// connection holds one use from its first request on — and is balanced over that vServer's
/// services on its own. Service connections come from the core's `BackendPool`, except for a
/// connection's first request, which gets a new one (HAProxy's `http-reuse safe`: a request a
/// client would not retry never meets a connection the service may be closing). Requests carry
/// `X-Forwarded-For`; the end of the chain answers `302`/`503` per request. A request without a
/// body and of an idempotent method whose pooled connection the service closed before answering
/// goes out once more on a new connection.
///
/// Loop-bound: lives on the event loop of the core that accepted it.
final class HTTPSession: ChannelInboundHandler, RemovableChannelHandler, LiveConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Between requests.
        case idle
        /// A request is being routed and its service connection opened.
        case routing
        /// The request goes to (and its response comes from) `backend`.
        case forwarding
        /// The traffic manager answers the request itself once it has been read.
        case answering(HTTPResponseStatus)
        case finished
    }

    let core: CoreRuntime
    let chain: RouteChain
    private var context: ChannelHandlerContext?
    private var slot = -1
    private var phase = Phase.idle
    private var lastActivity: UInt64
    private var clientIP: String?
    private var clientText = "-"
    private var requests = 0
    /// With `quotaCounts: connections`: the chain member that admitted the connection, and its use.
    private var connectionUse: (index: Int, lease: QuotaLease)?

    // The request in progress.
    private var head: HTTPRequestHead?
    private var pending: [HTTPServerRequestPart] = []
    private var requestEnded = false
    private var keepAlive = true
    private var memberIndex = -1
    private var requestLease: QuotaLease?
    private var tried = ServiceSet()
    private var serviceIndex = -1
    private var backend: HTTPBackend?
    /// Whether `backend` came from the pool (and the request was already sent again once on a
    /// new connection after a pooled one closed under it).
    private var backendReused = false
    private var resent = false
    private var responseStarted = false
    private var serviceKeepsAlive = false
    private var redirect: String?
    /// The service that took the request, as the access log names it.
    private var servedBy: String?
    private var startedAt: UInt64 = 0
    private var sentAt: UInt64 = 0
    private var bytesIn = 0
    private var bytesOut = 0
    private var cycleStart: UInt64 = 0

    init(core: CoreRuntime, chain: RouteChain) {
        self.core = core
        self.chain = chain
        lastActivity = MonotonicTime.nanos()
    }

    /// The handlers of a client connection, in pipeline order after any TLS handler.
    func configure(_ channel: any Channel) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(self)
        try channel.syncOptions?.setOption(.autoRead, value: true)
    }

    private var member: VServerRuntime? { memberIndex >= 0 ? chain.members[memberIndex] : nil }
    private var counters: CoreTaskCounters? { member?.usage.cells[core.index] }

    // MARK: the client's side

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            clientIP = remote.ipAddress
            let ip = clientIP ?? "?"
            clientText = (ip.contains(":") ? "[\(ip)]" : ip) + ":\(remote.port ?? 0)"
        }
        slot = core.connections.insert(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    /// The client closed its side: the connection ends now between requests, else after the
    /// response to the request whose end was read (one cut short gets no answer).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
            keepAlive = false
            switch phase {
            case .idle, .finished: context.close(promise: nil)
            case .routing, .forwarding, .answering: if !requestEnded { context.close(promise: nil) }
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request that does not parse has been answered 400 by the error handler in front
        // (its write already flushed); the connection ends either way.
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = MonotonicTime.nanos()
        lastActivity = now
        if cycleStart == 0 { cycleStart = now }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            start(head, now: now)
        case .body(let buffer):
            bytesIn &+= buffer.readableBytes
            counters?.bytesIn.add(buffer.readableBytes)
            forward(part)
        case .end:
            requestEnded = true
            forward(part)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        backend?.flush()
        endCycle()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { backend?.setReading(true) }
        context.fireChannelWritabilityChanged()
    }

    private func endCycle() {
        guard cycleStart != 0 else { return }
        let end = MonotonicTime.nanos()
        counters?.busyNanos.add(Int(truncatingIfNeeded: end &- cycleStart))
        lastActivity = end
        cycleStart = 0
    }

    /// A request part after its head: to the service, kept until its connection is open, or
    /// (while the traffic manager answers) read and dropped.
    private func forward(_ part: HTTPServerRequestPart) {
        switch phase {
        case .forwarding:
            guard let backend else { return }
            backend.write(Self.toService(part))
            if !backend.isWritable { setReading(false) }
        case .routing:
            pending.append(part)
        case .answering(let status):
            if requestEnded { sendAnswer(status) }
        case .idle, .finished:
            break
        }
    }

    /// Whether a client may send `method` again without changing the outcome (RFC 9110 §9.2.2).
    private static func idempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }

    private static func toService(_ part: HTTPServerRequestPart) -> HTTPClientRequestPart {
        switch part {
        case .head(let head): return .head(head)
        case .body(let buffer): return .body(.byteBuffer(buffer))
        case .end(let trailers): return .end(trailers)
        }
    }

    /// Whether the client's requests are read (paused while its service is not writable).
    private var reading = true

    private func setReading(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        try? context?.channel.syncOptions?.setOption(.autoRead, value: on)
    }

    func backendBecameWritable() {
        if case .forwarding = phase { setReading(true) }
    }

    // MARK: routing a request

    private func start(_ head: HTTPRequestHead, now: UInt64) {
        requests += 1
        self.head = head
        pending.removeAll(keepingCapacity: true)
        requestEnded = false
        keepAlive = head.isKeepAlive
        tried = ServiceSet()
        resent = false
        responseStarted = false
        redirect = nil
        servedBy = nil
        startedAt = now
        bytesIn = 0
        bytesOut = 0
        guard admit() else {
            chain.primary.usage.cells[core.index].refusals.add(1)
            if case .redirect(let url) = chain.endAction {
                redirect = url
                answer(.found)
            } else {
                answer(.serviceUnavailable)
            }
            return
        }
        phase = .routing
        pickService()
    }

    /// Finds the chain member that serves this request: the connection's, or (counting
    /// requests, or on a connection's first request) the first along the chain that admits one
    /// more use. False: the end of the chain.
    private func admit() -> Bool {
        let countsRequests = chain.primary.config.quotaCounts == .requests
        if !countsRequests, let connectionUse {
            memberIndex = connectionUse.index
            return true
        }
        memberIndex = -1
        let plan = chain.plan(core: core.index, start: chain.pinnedStart(client: clientIP), from: 0)
        // A queue is refused by the configuration with routing: request (`.queue` cannot occur).
        guard case .admitted(let index, _) = plan else { return false }
        let lease = QuotaLease(admittedBy: chain.members[index].quota, core: core.index)
        memberIndex = index
        if countsRequests { requestLease = lease } else { connectionUse = (index, lease) }
        counters?.opened.add(1)
        chain.pin(client: clientIP, to: index)
        return true
    }

    /// Picks a service for the request (stickiness, else the balancer, never one tried) and
    /// gets a connection to it: from the pool, or a new one.
    private func pickService() {
        guard let member, case .routing = phase else { return }
        let state = member.coreState(core.index)
        let services = member.services
        guard let index = member.stickyService(client: clientIP, excluding: tried)
                ?? state.balancer.pick(isUp: { services[$0].isUp }, excluding: tried,
                                       openConnections: { services[$0].openConnections }) else {
            releaseRequestUse()
            answer(.serviceUnavailable)
            return
        }
        tried.insert(index)
        state.balancer.opened(index)
        services[index].connectionOpened()
        serviceIndex = index
        openConnection(pooled: requests > 1)
    }

    /// Gets the request a connection to its service (`serviceIndex`): from the pool when
    /// `pooled` and one is idle there, else a new one.
    private func openConnection(pooled: Bool) {
        guard let member else { return }
        let state = member.coreState(core.index)
        let service = member.services[serviceIndex]
        if pooled, let idle = core.backendPool.take(service) {
            backendReused = true
            attach(idle)
            return
        }
        backendReused = false
        let request = requests
        let clock = MonotonicTime.nanos()
        state.bootstrap.connect(to: service.address).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard case .routing = phase, requests == request else {
                    channel.close(promise: nil)
                    return
                }
                let counters = service.counters[core.index]
                let backend = HTTPBackend(service: service, core: core)
                do {
                    if let tls = service.tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .fireError)
                    try channel.pipeline.syncOperations.addHandler(backend)
                    try channel.syncOptions?.setOption(.autoRead, value: true)
                } catch {
                    channel.close(promise: nil)
                    connectFailed(counters)
                    return
                }
                let now = MonotonicTime.nanos()
                counters.connections.add(1)
                counters.connectTime.record(nanos: now &- clock)
                attach(backend)
            case .failure:
                guard case .routing = phase, requests == request else { return }
                connectFailed(service.counters[core.index])
            }
        }
    }

    private func connectFailed(_ serviceCounters: CoreServiceCounters) {
        self.counters?.connectFailures.add(1)
        serviceCounters.connectFailures.add(1)
        serviceDone()
        pickService()
    }

    /// The request's service connection is open: send what was read of the request.
    private func attach(_ backend: HTTPBackend) {
        guard var head, let member else { return }
        backend.session = self
        self.backend = backend
        phase = .forwarding
        member.stick(client: clientIP, to: serviceIndex)
        if core.accessLog != nil {
            let name = member.services[serviceIndex].config.name
            servedBy = member === chain.primary ? name : member.config.name + "/" + name
        }
        // Hop by hop: the connection to the service stays open whatever the client's does.
        for name in ["connection", "keep-alive", "proxy-connection"] { head.headers.remove(name: name) }
        if let clientIP {
            let previous = head.headers["x-forwarded-for"]
            head.headers.remove(name: "x-forwarded-for")
            head.headers.add(name: "X-Forwarded-For", value: (previous + [clientIP]).joined(separator: ", "))
        }
        head.version = .http1_1
        // NIOHTTP1's request validator refuses to send a request-target or header that RFC 9112
        // does not allow (the parser in front is more lenient): the connection closes, and the
        // client gets 400 (see `backendClosed`).
        backend.write(.head(head))
        for part in pending { backend.write(Self.toService(part)) }
        pending.removeAll(keepingCapacity: true)
        backend.flush()
        sentAt = MonotonicTime.nanos()
        if !backend.isWritable { setReading(false) }
    }

    // MARK: the service's response

    func backendRead(_ part: HTTPClientResponsePart) {
        guard case .forwarding = phase, let context else { return }
        let now = MonotonicTime.nanos()
        lastActivity = now
        if cycleStart == 0 { cycleStart = now }
        let serviceCounters = member?.services[serviceIndex].counters[core.index]
        switch part {
        case .head(var response):
            responseStarted = true
            serviceKeepsAlive = response.isKeepAlive
            serviceCounters?.firstByteTime.record(nanos: now &- sentAt)
            for name in ["connection", "keep-alive"] { response.headers.remove(name: name) }
            let clientVersion = head?.version ?? .http1_1
            if clientVersion.minor == 0 {
                // An HTTP/1.0 client reads a body without a length to the close.
                if !response.headers.contains(name: "content-length") { keepAlive = false }
                if keepAlive { response.headers.add(name: "Connection", value: "keep-alive") }
            }
            if !keepAlive { response.headers.add(name: "Connection", value: "close") }
            response.version = clientVersion
            context.write(wrapOutboundOut(.head(response)), promise: nil)
        case .body(let buffer):
            bytesOut &+= buffer.readableBytes
            counters?.bytesOut.add(buffer.readableBytes)
            serviceCounters?.bytesReceived.add(buffer.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            // Done before the end is written: writing it may hand the next pipelined request in.
            let close = !keepAlive
            requestDone(reuse: serviceKeepsAlive && requestEnded)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                if close { channel.close(promise: nil) }
            }
        }
    }

    func backendReadComplete() {
        guard let context else { return }
        context.flush()
        if !context.channel.isWritable { backend?.setReading(false) }
        endCycle()
    }

    /// The service closed the connection while the request used it.
    func backendClosed(_ closed: HTTPBackend) {
        guard case .forwarding = phase, closed === backend else { return }
        backend = nil
        if responseStarted {
            // The response is cut: the client cannot tell, except by the connection's end.
            close()
        } else if backendReused && !resent && !closed.refusedRequest && bytesIn == 0
                    && Self.idempotent(head?.method ?? .POST) {
            // A pooled connection the service closed as the request went out (its keep-alive
            // ran out): the request did not reach it. Sent again once, on a new connection to
            // the same service, as HAProxy and browsers do with idempotent requests.
            resent = true
            phase = .routing
            pending.removeAll(keepingCapacity: true)
            if requestEnded { pending.append(.end(nil)) }
            openConnection(pooled: false)
        } else {
            serviceDone()
            releaseRequestUse()
            // A request that cannot be sent on ends its connection, as one that does not parse.
            if closed.refusedRequest { keepAlive = false }
            answer(closed.refusedRequest ? .badRequest : .badGateway)
        }
    }

    /// The response has ended: the service connection goes back to the pool (or closes), the
    /// request's use of the quota is given back, and the request is logged.
    private func requestDone(reuse: Bool) {
        if let backend {
            backend.session = nil
            self.backend = nil
            // Pooled, it reads again: a service closing it is seen at once.
            backend.setReading(true)
            if !(reuse && backend.isActive && core.backendPool.put(backend, now: MonotonicTime.nanos())) { backend.close() }
        }
        serviceDone()
        releaseRequestUse()
        log(outcome: memberIndex > 0 ? .spilled : .served)
        phase = .idle
        setReading(true)
    }

    /// The request no longer uses its service (counted by the balancer from the pick on).
    private func serviceDone() {
        guard serviceIndex >= 0, let member else { return }
        member.coreState(core.index).balancer.closed(serviceIndex)
        member.services[serviceIndex].connectionClosed()
        serviceIndex = -1
    }

    private func releaseRequestUse() {
        guard let requestLease, let member = member else { return }
        self.requestLease = nil
        core.release(requestLease, of: member)
        counters?.closed.add(1)
    }

    // MARK: answering itself

    /// Answers the request with `status` (and no body) once it has been read.
    private func answer(_ status: HTTPResponseStatus) {
        phase = .answering(status)
        // A connection that holds no use of the quota is not kept once the chain is full.
        if connectionUse == nil && chain.primary.config.quotaCounts == .connections { keepAlive = false }
        if requestEnded { sendAnswer(status) }
    }

    private func sendAnswer(_ status: HTTPResponseStatus) {
        guard let context else { return }
        var headers = HTTPHeaders()
        if let redirect, status == .found { headers.add(name: "Location", value: redirect) }
        if status == .serviceUnavailable { headers.add(name: "Retry-After", value: "1") }
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let close = !keepAlive
        let channel = context.channel
        log(outcome: status == .found ? .redirected : .refused)
        phase = .idle
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head?.version ?? .http1_1, status: status, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if close { channel.close(promise: nil) }
        }
    }

    // MARK: ending

    func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool {
        (member ?? chain.primary).closeReason(now: now, lastActivity: lastActivity, closeAllDeadline: closeAllDeadline) != nil
    }

    func close() {
        context?.close(promise: nil)
    }

    /// The end of the client connection, whatever ended it. Idempotent.
    private func finish() {
        if case .finished = phase { return }
        let previous = phase
        phase = .finished
        if let backend {
            backend.session = nil
            backend.close()
            self.backend = nil
        }
        serviceDone()
        releaseRequestUse()
        if let connectionUse {
            self.connectionUse = nil
            let member = chain.members[connectionUse.index]
            core.release(connectionUse.lease, of: member)
            member.usage.cells[core.index].closed.add(1)
        }
        switch previous {
        case .routing, .forwarding, .answering: log(outcome: .timedOut)
        case .idle, .finished: break
        }
        if slot >= 0 {
            core.connections.remove(slot: slot)
            slot = -1
        }
    }

    /// The access log's record of the request that just ended.
    private func log(outcome: AccessLogRecord.Outcome) {
        guard let accessLog = core.accessLog else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        accessLog.record(AccessLogRecord(timeMs: UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000,
                                         vServer: chain.primary.config.name, core: core.index, client: clientText,
                                         target: servedBy ?? "-", bytesIn: bytesIn, bytesOut: bytesOut,
                                         durationUs: Int((MonotonicTime.nanos() &- startedAt) / 1000), outcome: outcome),
                         core: core.index)
    }
}
