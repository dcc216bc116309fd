import Glibc
import NIOCore
import NIOSSL
import TMSCore

/// One client connection of an HTTP vServer routed per request (`routing: request`).
///
/// `HTTP1Head` parses the client's requests straight from the bytes read (a malformed one gets
/// `400`, reaches no service and ends the connection; a pipelined one waits, unread, until the
/// response before it has ended) and `HTTP1BodyFramer` finds where each body ends. Each
/// request walks the backup chain — with `quotaCounts: requests` it holds
/// one use of the admitting vServer's quota until its response ends; with `connections` the
/// connection holds one use from its first request on — and is balanced over that vServer's
/// services on its own. Service connections come from the core's `BackendPool`, except for a
/// connection's first request, which gets a new one (HAProxy's `http-reuse safe`: a request a
/// client would not retry never meets a connection the service may be closing). Requests carry
/// `X-Forwarded-For`; the end of the chain answers `302`/`503` per request. A request without a
/// body and of an idempotent method whose pooled connection the service closed before answering
/// goes out once more on a new connection.
///
/// The client's socket is a `ByteStream`: a raw one on the core's poll set, or a NIO channel
/// behind the listener's TLS. So is each service connection (`HTTPBackend`): raw, or a channel
/// for a service with TLS.
///
/// Loop-bound: lives on the event loop of the core that accepted it.
final class HTTPSession: ByteStreamDelegate, LiveConnection, QueueWaiter {
    /// What the traffic manager answers itself.
    enum Answer {
        case found, badRequest, notImplemented, badGateway, unavailable

        var statusLine: StaticString {
            switch self {
            case .found: "302 Found\r\n"
            case .badRequest: "400 Bad Request\r\n"
            case .notImplemented: "501 Not Implemented\r\n"
            case .badGateway: "502 Bad Gateway\r\n"
            case .unavailable: "503 Service Unavailable\r\n"
            }
        }
    }

    private enum Phase {
        /// Between requests.
        case idle
        /// The request waits in a chain member's queue for a use of its quota.
        case queued(ticket: UInt64)
        /// A request is being routed and its service connection opened.
        case routing
        /// The request goes to (and its response comes from) `backend`.
        case forwarding
        /// The traffic manager answers the request itself once it has been read.
        case answering(Answer)
        /// The service switched protocols (`101`): bytes go both ways unparsed, to the end.
        case tunneling
        case finished
    }

    let core: CoreRuntime
    let chain: RouteChain
    private var stream: (any ByteStream)?
    private var slot = -1
    private var phase = Phase.idle
    private var lastActivity: UInt64
    private var clientIP: String?
    /// The client's address (its text is made only for the access log).
    private var clientAddress: SocketAddress?
    private var requests = 0
    /// With `quotaCounts: connections`: the chain member that admitted the connection, and its use.
    private var connectionUse: (index: Int, lease: QuotaLease)?
    /// Where the request's chain walk started and stands (to go on after a queue's timeout).
    private var walkStart = 0
    private var walkPosition = 0
    /// The member whose queue the request waits in (while `.queued`), and whether it waited.
    private var waitingFor: VServerRuntime?
    private var waited = false

    // The client's bytes not yet taken (an incomplete head, a pipelined request).
    private var inbound: ByteBuffer?
    /// The body reader of the request in progress (nil: a head is read next).
    private var requestFramer: HTTP1BodyFramer?

    // The request in progress.
    private var head: HTTP1Head?
    /// The client's HTTP minor version (of its latest request).
    private var clientMinor = 1
    /// Body bytes read before the request's service connection was open.
    private var pending: [ByteBuffer] = []
    private var pendingBytes = 0
    private var requestEnded = false
    /// How the response's body goes to the client.
    private var passing = HTTP1Head.BodyPassing.asIs
    private var keepAlive = true
    private var memberIndex = -1
    private var requestLease: QuotaLease?
    private var tried = ServiceSet()
    private var serviceIndex = -1
    private var backend: HTTPBackend?
    /// A raw service connection being opened, or a TLS one in its handshake, since when
    /// (monotonic ns) and for how long (the vServer's connect timeout covers both).
    private var connecting: PolledStream?
    private var handshaking: ChannelStream?
    private var connectStarted: UInt64 = 0
    private var connectTimeout: UInt64 = 0
    /// Whether `backend` came from the pool (and the request was already sent again once on a
    /// new connection after a pooled one closed under it).
    private var backendReused = false
    private var resent = false
    private var responseStarted = false
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

    /// The handlers of a client's channel, in pipeline order after any TLS handler.
    func configure(_ channel: any Channel) throws {
        let stream = ChannelStream(delegate: self)
        try channel.pipeline.syncOperations.addHandler(stream)
        try channel.syncOptions?.setOption(.autoRead, value: true)
        attach(stream)
    }

    static let allocator = ByteBufferAllocator()

    private var member: VServerRuntime? { memberIndex >= 0 ? chain.members[memberIndex] : nil }
    private var counters: CoreTaskCounters? { member?.usage.cells[core.index] }

    // MARK: the client's side

    /// Starts the session on the client's stream.
    func attach(_ stream: any ByteStream) {
        self.stream = stream
        clientAddress = stream.remoteAddress
        clientIP = clientAddress?.ipText
        slot = core.connections.insert(self)
    }

    func streamClosed() {
        finish()
        stream = nil
    }

    /// The client closed its side: the connection ends now between requests, else once the
    /// requests read to their end before it are answered (one cut short gets no answer).
    func streamInputClosed() {
        inputClosed = true
        switch phase {
        case .idle, .finished: closeAfterWrites()
        case .queued, .routing, .forwarding, .answering: if !requestEnded { stream?.close() }
        // The client is done: the service's side closes once what the client sent went out,
        // and its close ends the client's (no half-open tunnel).
        case .tunneling: backend?.closeAfterWrites()
        }
    }

    /// The client has sent its FIN.
    private var inputClosed = false

    func streamRead(_ bytes: ByteBuffer) {
        let now = MonotonicTime.nanos()
        lastActivity = now
        if cycleStart == 0 { cycleStart = now }
        if case .tunneling = phase {
            tunnel(bytes)
            return
        }
        var buffer = bytes
        inbound.append(&buffer)
        readRequests()
    }

    /// The client's bytes in a tunnel: to the service as they are (flushed when the round of
    /// reads ends); reading pauses while the service's side is full.
    private func tunnel(_ bytes: ByteBuffer) {
        guard let backend else { return }
        bytesIn &+= bytes.readableBytes
        counters?.bytesIn.add(bytes.readableBytes)
        backend.write(bytes)
        updateReading()
    }

    /// Takes what `inbound` holds: a request's head (when no request is in progress), then
    /// its body, forwarded as it comes. A pipelined request stays in `inbound` until the
    /// response before it has ended.
    private func readRequests() {
        // Answering a request may start reading the next: one loop does it all (a client's
        // pipelined requests never nest calls).
        guard !readingRequests else { return }
        readingRequests = true
        defer { readingRequests = false }
        while stream != nil, var input = inbound, input.readableBytes > 0 {
            inbound = nil
            guard var framer = requestFramer else {
                guard case .idle = phase else {
                    inbound = input
                    break
                }
                let head: HTTP1Head?
                do throws(HTTP1Head.Failure) {
                    head = try HTTP1Head.parseRequest(&input, scanned: &headScanned)
                } catch {
                    refuseMalformed(error == .unknownMethod ? .notImplemented : .badRequest)
                    return
                }
                inbound = input
                guard let head else { break }
                requestFramer = HTTP1BodyFramer(head.framing)
                start(head, now: MonotonicTime.nanos())
                if requestFramer?.isDone == true { bodyEnded() }
                continue
            }
            let consumed: (count: Int, ended: Bool)
            do {
                consumed = try input.withReadableBytes { (raw) throws(HTTP1Head.Failure) in try framer.consume(raw) { _ in } }
            } catch {
                refuseMalformed(.badRequest)
                return
            }
            requestFramer = framer
            let body = input.readSlice(length: consumed.count)!
            inbound = input
            if consumed.count > 0 {
                bytesIn &+= consumed.count
                counters?.bytesIn.add(consumed.count)
                forward(body)
            }
            if consumed.ended { bodyEnded() }
        }
        // Between requests with the client's side closed: nothing more can come.
        if inputClosed, case .idle = phase, requestFramer == nil {
            closeAfterWrites()
            return
        }
        updateReading()
    }

    /// Closes the client's connection once what was written to it has gone out.
    private func closeAfterWrites() {
        stream?.closeAfterWrites()
    }

    private var readingRequests = false
    /// How far the incomplete head in `inbound` has been searched for its end.
    private var headScanned = 0

    /// The request's body has been read to its end (or it had none).
    private func bodyEnded() {
        requestFramer = nil
        requestEnded = true
        switch phase {
        case .answering(let answer): sendAnswer(answer)
        case .forwarding: backend?.flush()
        case .idle, .queued, .routing, .tunneling, .finished: break
        }
    }

    /// A request that does not parse: `answer` (400, or 501 for an unknown method) unless part
    /// of it went to a service, and the connection ends.
    private func refuseMalformed(_ answer: Answer) {
        inbound = nil
        requestFramer = nil
        keepAlive = false
        guard let stream else { return }
        if case .forwarding = phase {
            // Part of the request went to a service: neither connection can be used again.
            stream.close()
            return
        }
        leaveQueue()
        if case .answering = phase {} else { releaseRequestUse(); serviceDone() }
        phase = .answering(answer)
        requestEnded = true
        sendAnswer(answer)
    }

    func streamReadComplete() {
        backend?.flush()
        endCycle()
    }

    func streamWritable() {
        backend?.setReading(true)
    }

    private func endCycle() {
        guard cycleStart != 0 else { return }
        let end = MonotonicTime.nanos()
        counters?.busyNanos.add(Int(truncatingIfNeeded: end &- cycleStart))
        lastActivity = end
        cycleStart = 0
    }

    /// Request body bytes: to the service, kept until its connection is open, or (while the
    /// traffic manager answers) dropped.
    private func forward(_ body: ByteBuffer) {
        switch phase {
        case .forwarding:
            backend?.write(body)
        case .queued, .routing:
            pending.append(body)
            pendingBytes += body.readableBytes
        case .answering, .idle, .tunneling, .finished:
            break
        }
    }

    /// Whether the client's bytes are read: between requests, while a request's body goes on to
    /// a service that keeps up (or is held, up to 1 MiB, until its connection opens), and while
    /// a response is awaited as long as less than 64 KiB of what follows (pipelined requests)
    /// waits unread. Interest in reading is left on across a client's requests, not turned off
    /// and on for each (each change is an epoll_ctl).
    private var reading = true

    private func updateReading() {
        let wanted: Bool
        let waitingLittle = !inputClosed && (inbound?.readableBytes ?? 0) < 64 << 10
        switch phase {
        case .idle: wanted = !inputClosed
        case .queued, .routing: wanted = requestFramer != nil ? pendingBytes < 1 << 20 : waitingLittle
        case .forwarding: wanted = requestFramer != nil ? (backend?.isWritable ?? false) : waitingLittle
        case .answering: wanted = requestFramer != nil || waitingLittle
        case .tunneling: wanted = !inputClosed && (backend?.isWritable ?? false)
        case .finished: wanted = false
        }
        guard wanted != reading else { return }
        reading = wanted
        stream?.setReading(wanted)
    }

    func backendBecameWritable() {
        switch phase {
        case .forwarding, .tunneling: updateReading()
        case .idle, .queued, .routing, .answering, .finished: break
        }
    }

    // MARK: routing a request

    private func start(_ head: HTTP1Head, now: UInt64) {
        requests += 1
        self.head = head
        clientMinor = head.minorVersion
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
        requestEnded = false
        keepAlive = head.keepAlive
        tried = ServiceSet()
        resent = false
        responseStarted = false
        redirect = nil
        servedBy = nil
        startedAt = now
        bytesIn = 0
        bytesOut = 0
        waited = false
        // Counting connections, a connection's later requests go where its first was admitted.
        if chain.primary.config.quotaCounts == .connections, let connectionUse {
            memberIndex = connectionUse.index
            phase = .routing
            pickService()
            return
        }
        walkStart = chain.pinnedStart(client: clientIP)
        route(from: 0)
    }

    /// Walks the chain from walk position `first` (see `RoutePlanner`) for the member that
    /// admits one more use: the request goes there, waits in that member's queue, or (past the
    /// chain's end) gets the chain's answer.
    private func route(from first: Int) {
        memberIndex = -1
        switch chain.plan(core: core.index, start: walkStart, from: first) {
        case .admitted(let index, let position):
            walkPosition = position
            admitted(QuotaLease(admittedBy: chain.members[index].quota, core: core.index), index: index)
        case .queue(let index, let position):
            walkPosition = position
            wait(for: index)
        case .endOfChain:
            chain.primary.usage.cells[core.index].refusals.add(1)
            if case .redirect(let url) = chain.endAction {
                redirect = url
                answer(.found)
            } else {
                answer(.unavailable)
            }
        }
    }

    /// Joins the queue of the member at `index` (or is admitted at once, or, the queue full,
    /// goes on down the chain).
    private func wait(for index: Int) {
        let member = chain.members[index]
        switch core.admitOrQueue(self, at: member) {
        case .admitted(let lease):
            admitted(lease, index: index)
        case .queued(let ticket):
            phase = .queued(ticket: ticket)
            waited = true
            waitingFor = member
            updateReading()
        case .refused:
            route(from: walkPosition + 1)
        }
    }

    /// The member at `index` admitted one more use (`lease`): the request's (counting
    /// requests) or the connection's, from its first request on. The request is routed.
    private func admitted(_ lease: QuotaLease, index: Int) {
        memberIndex = index
        if chain.primary.config.quotaCounts == .requests { requestLease = lease } else { connectionUse = (index, lease) }
        counters?.opened.add(1)
        chain.pin(client: clientIP, to: index)
        phase = .routing
        pickService()
    }

    func queueServed(_ lease: QuotaLease, vServer: VServerRuntime) {
        guard case .queued = phase, vServer === waitingFor, let index = chain.members.firstIndex(where: { $0 === vServer }) else {
            core.release(lease, of: vServer)
            return
        }
        waitingFor = nil
        admitted(lease, index: index)
    }

    /// The wait timed out: on down the chain (or its end's answer).
    func queueExpired() {
        guard case .queued = phase else { return }
        waitingFor = nil
        route(from: walkPosition + 1)
    }

    /// Leaves the queue the request waits in, if it does (the client went, or sent garbage).
    private func leaveQueue() {
        guard case .queued(let ticket) = phase else { return }
        if let waitingFor { core.leaveQueue(ticket: ticket, of: waitingFor) }
        waitingFor = nil
        phase = .routing
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
            answer(.unavailable)
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
        let counters = service.counters[core.index]
        guard let tls = service.tls else {
            // A service without TLS: a raw socket on the core's poll set.
            connecting = PolledStream.connect(to: service.address, poller: core.poller) { [self] connected in
                guard let stream = connecting else { return }
                connecting = nil
                guard case .routing = phase, requests == request else { return stream.close() }
                guard connected else { return connectFailed(counters) }
                let backend = HTTPBackend(service: service, core: core)
                stream.attach(backend)
                backend.attach(stream)
                counters.connections.add(1)
                counters.connectTime.record(nanos: MonotonicTime.nanos() &- clock)
                attach(backend)
            }
            guard connecting != nil else { return connectFailed(counters) }
            connectStarted = clock
            connectTimeout = UInt64(member.config.connectTimeout.totalNanoseconds)
            return
        }
        state.bootstrap.connect(to: service.address).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard case .routing = phase, requests == request else {
                    channel.close(promise: nil)
                    return
                }
                let backend = HTTPBackend(service: service, core: core)
                let stream = ChannelStream(delegate: backend)
                do {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(stream)
                    try channel.syncOptions?.setOption(.autoRead, value: true)
                    backend.attach(stream)
                } catch {
                    channel.close(promise: nil)
                    connectFailed(counters)
                    return
                }
                // The request goes once the handshake completed; one that fails, or does not
                // complete within the connect timeout (the sweep), sends it to the next service.
                handshaking = stream
                connectStarted = clock
                connectTimeout = UInt64(member.config.connectTimeout.totalNanoseconds)
                stream.handshakeDone = { [self] completed in
                    guard handshaking === stream else { return }
                    handshaking = nil
                    guard case .routing = phase, requests == request else { return stream.close() }
                    guard completed else { return connectFailed(counters) }
                    counters.connections.add(1)
                    counters.connectTime.record(nanos: MonotonicTime.nanos() &- clock)
                    attach(backend)
                }
            case .failure:
                guard case .routing = phase, requests == request else { return }
                connectFailed(counters)
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
        guard let head, let member else { return }
        backend.session = self
        self.backend = backend
        phase = .forwarding
        member.stick(client: clientIP, to: serviceIndex)
        if core.accessLog != nil {
            let name = member.services[serviceIndex].config.name
            servedBy = member === chain.primary ? name : member.config.name + "/" + name
        }
        // Hop by hop: the connection to the service stays open whatever the client's does.
        var out = Self.allocator.buffer(capacity: head.bytes.readableBytes + 64)
        head.writeRequest(to: &out, clientIP: clientIP)
        backend.send(head: out, toHEAD: head.isHEAD, upgrade: head.isUpgrade)
        for part in pending { backend.write(part) }
        pending.removeAll(keepingCapacity: true)
        pendingBytes = 0
        backend.flush()
        sentAt = MonotonicTime.nanos()
        updateReading()
    }

    // MARK: the service's response

    /// The response's head (or an interim 1xx one) has arrived: written on to the client.
    /// Returns how the body goes to the client.
    func backendHead(_ response: HTTP1Head) -> HTTP1Head.BodyPassing {
        guard case .forwarding = phase, let stream else { return .asIs }
        headArrived()
        var passing = HTTP1Head.BodyPassing.asIs
        var keepAlive = self.keepAlive
        if response.status >= 200 {
            (passing, keepAlive) = response.passing(clientMinor: clientMinor, clientKeepAlive: keepAlive)
            self.passing = passing
            self.keepAlive = keepAlive
        }
        var out = Self.allocator.buffer(capacity: response.bytes.readableBytes + 48)
        response.writeResponse(to: &out, clientMinor: clientMinor, passing: passing, keepAlive: keepAlive)
        stream.write(out)
        return passing
    }

    /// The service answered a protocol switch with `101`: the answer goes to the client and the
    /// connection becomes a tunnel (what the client sent after its request goes on first). The
    /// request keeps its use of the quota, and its service, until the tunnel ends.
    func backendSwitched(_ response: HTTP1Head) {
        guard case .forwarding = phase, let stream, let backend else { return }
        headArrived()
        keepAlive = false
        phase = .tunneling
        var out = Self.allocator.buffer(capacity: response.bytes.readableBytes + 32)
        response.writeSwitch(to: &out)
        stream.write(out)
        if let early = inbound, early.readableBytes > 0 {
            inbound = nil
            tunnel(early)
            backend.flush()
        }
        updateReading()
    }

    /// The service's bytes in a tunnel: to the client as they are (flushed when the round of
    /// reads ends; the service's reading pauses while the client's side is full).
    func backendTunnel(_ bytes: ByteBuffer) {
        guard case .tunneling = phase, let stream else { return }
        let now = MonotonicTime.nanos()
        lastActivity = now
        if cycleStart == 0 { cycleStart = now }
        countServiceBytes(bytes.readableBytes)
        stream.write(bytes)
    }

    /// A response head (or a 1xx before it) arrived: the session is active, and the service's
    /// time to its first byte is recorded once per request.
    private func headArrived() {
        let now = MonotonicTime.nanos()
        lastActivity = now
        if cycleStart == 0 { cycleStart = now }
        if !responseStarted, serviceIndex >= 0, let member {
            member.services[serviceIndex].counters[core.index].firstByteTime.record(nanos: now &- sentAt)
        }
        responseStarted = true
    }

    /// Bytes from the service on their way to the client, in the request's and the service's counters.
    private func countServiceBytes(_ count: Int) {
        bytesOut &+= count
        counters?.bytesOut.add(count)
        if serviceIndex >= 0, let member { member.services[serviceIndex].counters[core.index].bytesReceived.add(count) }
    }

    /// The service ended its side of a tunnel: the client's closes once what the service sent
    /// has gone out.
    func backendTunnelEnded() {
        guard case .tunneling = phase else { return }
        closeAfterWrites()
    }

    /// Response body bytes (as `backendHead` said they would come): written on to the client.
    func backendBody(_ bytes: ByteBuffer) {
        guard case .forwarding = phase, let stream else { return }
        let count = bytes.readableBytes
        countServiceBytes(count)
        if passing == .chunk {
            var size = Self.allocator.buffer(capacity: 18)
            size.writeString(String(count, radix: 16))
            size.writeStaticString("\r\n")
            stream.write(size)
            stream.write(bytes)
            stream.write(ByteBuffer(staticString: "\r\n"))
        } else {
            stream.write(bytes)
        }
    }

    /// The response has ended.
    func backendEnded(reusable: Bool) {
        guard case .forwarding = phase, let stream else { return }
        if passing == .chunk { stream.write(ByteBuffer(staticString: "0\r\n\r\n")) }
        let close = !keepAlive
        requestDone(reuse: reusable && requestEnded)
        if close {
            closeAfterWrites()
            return
        }
        stream.flush()
        readRequests()
    }

    func backendReadComplete() {
        guard let stream else { return }
        stream.flush()
        if !stream.isWritable { backend?.setReading(false) }
        endCycle()
    }

    /// The service closed the connection while the request used it.
    func backendClosed(_ closed: HTTPBackend) {
        if case .tunneling = phase, closed === backend {
            backend = nil
            closeAfterWrites()
            return
        }
        guard case .forwarding = phase, closed === backend else { return }
        backend = nil
        if responseStarted {
            // The response is cut: the client cannot tell, except by the connection's end.
            close()
        } else if backendReused && !resent && bytesIn == 0 && head?.isIdempotent == true {
            // A pooled connection the service closed as the request went out (its keep-alive
            // ran out): the request did not reach it. Sent again once, on a new connection to
            // the same service, as HAProxy and browsers do with idempotent requests.
            resent = true
            phase = .routing
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
            openConnection(pooled: false)
        } else {
            serviceDone()
            releaseRequestUse()
            answer(.badGateway)
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
            if reuse && backend.isActive {
                // A clean connection the pool has no room for is reset, as HAProxy does: nothing
                // is in flight, and neither side keeps a closing socket (FIN_WAIT, TIME_WAIT).
                if !core.backendPool.put(backend, now: MonotonicTime.nanos()) { backend.abort() }
            } else {
                backend.close()
            }
        }
        serviceDone()
        releaseRequestUse()
        log(outcome: memberIndex > 0 ? .spilled : waited ? .queued : .served)
        phase = .idle
        updateReading()
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

    /// Answers the request with `answer` (and no body) once it has been read.
    private func answer(_ answer: Answer) {
        phase = .answering(answer)
        // A connection that holds no use of the quota is not kept once the chain is full.
        if connectionUse == nil && chain.primary.config.quotaCounts == .connections { keepAlive = false }
        if requestEnded { sendAnswer(answer) }
        updateReading()
    }

    private func sendAnswer(_ answer: Answer) {
        guard let stream else { return }
        var out = Self.allocator.buffer(capacity: 160)
        out.writeStaticString(clientMinor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeStaticString(answer.statusLine)
        if let redirect, answer == .found {
            out.writeStaticString("Location: ")
            out.writeString(redirect)
            out.writeStaticString("\r\n")
        }
        if answer == .unavailable { out.writeStaticString("Retry-After: 1\r\n") }
        out.writeStaticString(keepAlive ? "Content-Length: 0\r\nConnection: keep-alive\r\n\r\n" : "Content-Length: 0\r\nConnection: close\r\n\r\n")
        // A request that did not parse is not one to log.
        if answer != .badRequest && answer != .notImplemented { log(outcome: answer == .found ? .redirected : .refused) }
        phase = .idle
        stream.write(out)
        if keepAlive {
            stream.flush()
            readRequests()
        } else {
            closeAfterWrites()
        }
    }

    // MARK: ending

    /// Whether the sweep closes the session; a raw service connection that is not open after
    /// the vServer's connect timeout fails here first (the next service is tried).
    func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool {
        if connecting != nil || handshaking != nil, now &- connectStarted >= connectTimeout, serviceIndex >= 0, let member {
            abandonServiceConnect()
            connectFailed(member.services[serviceIndex].counters[core.index])
        }
        let tunnel = if case .tunneling = phase { true } else { false }
        return (member ?? chain.primary).closeReason(now: now, lastActivity: lastActivity, closeAllDeadline: closeAllDeadline,
                                                     tunnel: tunnel) != nil
    }

    func close() {
        stream?.close()
    }

    /// Closes a service connection still being opened (raw connect or TLS handshake), without
    /// its callback.
    private func abandonServiceConnect() {
        if let connecting {
            self.connecting = nil
            connecting.abandon()
        }
        if let handshaking {
            self.handshaking = nil
            handshaking.handshakeDone = nil
            handshaking.close()
        }
    }

    /// The end of the client connection, whatever ended it. Idempotent.
    private func finish() {
        if case .finished = phase { return }
        leaveQueue()
        let previous = phase
        phase = .finished
        if let backend {
            backend.session = nil
            backend.close()
            self.backend = nil
        }
        abandonServiceConnect()
        serviceDone()
        releaseRequestUse()
        if let connectionUse {
            self.connectionUse = nil
            let member = chain.members[connectionUse.index]
            core.release(connectionUse.lease, of: member)
            member.usage.cells[core.index].closed.add(1)
        }
        switch previous {
        case .queued, .routing, .forwarding, .answering: log(outcome: .timedOut)
        case .tunneling: log(outcome: memberIndex > 0 ? .spilled : waited ? .queued : .served)
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
                                         vServer: chain.primary.config.name, core: core.index, client: clientAddress?.accessLogText ?? "-",
                                         target: servedBy ?? "-", bytesIn: bytesIn, bytesOut: bytesOut,
                                         durationUs: Int((MonotonicTime.nanos() &- startedAt) / 1000), outcome: outcome),
                         core: core.index)
    }
}
