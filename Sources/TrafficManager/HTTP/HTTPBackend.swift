import NIOCore

/// One connection to a service, speaking HTTP/1.1 for the requests of HTTP sessions
/// (`routing: request`). While a request uses it, it belongs to that session (`session`);
/// between requests it waits in its core's `BackendPool`. It reads the service's responses
/// with `HTTP1Head` and `HTTP1BodyFramer` and hands the session the head and the body's bytes
/// as they arrive. Its socket is a `ByteStream` (raw, or a channel for a service with TLS).
/// Loop-bound: one core's loop.
final class HTTPBackend: ByteStreamDelegate {
    let service: ServiceRuntime
    private weak var core: CoreRuntime?
    /// The session whose request uses this connection (nil while pooled).
    var session: HTTPSession?
    /// When it went back to the pool (monotonic ns).
    var idleSince: UInt64 = 0
    private var stream: (any ByteStream)?
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
    /// The request asked to switch protocols: a `101` answer is expected (any other is refused).
    private var upgrading = false
    /// The service switched protocols: bytes go both ways unparsed until either side closes.
    private(set) var isTunnel = false

    init(service: ServiceRuntime, core: CoreRuntime) {
        self.service = service
        self.core = core
    }

    var isActive: Bool { stream?.isActive ?? false }
    var isWritable: Bool { stream?.isWritable ?? false }

    func attach(_ stream: any ByteStream) {
        self.stream = stream
    }

    /// Sends a request's head (as written on by `HTTP1Head.writeRequest`) and expects its
    /// response (a `101` only when the request asked to switch protocols: `upgrade`).
    func send(head: ByteBuffer, toHEAD: Bool, upgrade: Bool = false) {
        self.toHEAD = toHEAD
        upgrading = upgrade
        framer = nil
        inbound = nil
        headScanned = 0
        stream?.write(head)
    }

    /// Sends request body bytes (framed as the client framed them).
    func write(_ bytes: ByteBuffer) {
        stream?.write(bytes)
    }

    func flush() { stream?.flush() }

    func close() { stream?.close() }

    func closeAfterWrites() { stream?.closeAfterWrites() }

    /// Closes with a reset (a clean connection between requests that is not kept).
    func abort() { stream?.abort() }

    /// Pauses or resumes reading the service's response (the client reads slower than the
    /// service sends).
    func setReading(_ on: Bool) {
        stream?.setReading(on)
    }

    func streamRead(_ bytes: ByteBuffer) {
        guard session != nil else {
            // A pooled connection has nothing to say: one that speaks is not safe to reuse.
            stream?.close()
            return
        }
        if isTunnel {
            session?.backendTunnel(bytes)
            return
        }
        var buffer = bytes
        inbound.append(&buffer)
        do {
            try readResponse()
        } catch {
            // A response that does not parse: the connection cannot be trusted with anything.
            stream?.close()
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
                if head.status == 101 {
                    guard upgrading, head.minorVersion == 1 else { throw .malformed("a protocol switch that was not asked for") }
                    // A tunnel from here on: what came after the head is the new protocol's.
                    isTunnel = true
                    inbound = nil
                    session.backendSwitched(head)
                    if input.readableBytes > 0 { session.backendTunnel(input) }
                    return
                }
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

    func streamReadComplete() {
        session?.backendReadComplete()
    }

    func streamWritable() {
        session?.backendBecameWritable()
    }

    /// The service's end ends a response delimited by it; nothing more comes either way. A
    /// tunnel's ends once what the service sent has reached the client.
    func streamInputClosed() {
        endResponseByClose()
        if isTunnel { session?.backendTunnelEnded() }
        stream?.close()
    }

    func streamClosed() {
        endResponseByClose()
        gone()
        stream = nil
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
