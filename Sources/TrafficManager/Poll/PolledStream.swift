#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore

/// A raw socket on the core's poll set as a `ByteStream`: an accepted client of an HTTP
/// vServer routed per request, or a connection to a service without TLS.
///
/// Reads go into the core's scratch buffer and on to the delegate as a `ByteBuffer` of their
/// size; writes are queued until `flush`, then written with one `writev` while the socket
/// takes them. Writable means less than 64 KiB queued; `streamWritable` comes when it drained
/// below 32 KiB. Edge-triggered: a read round goes on until the socket has nothing more, and
/// reading turned back on resumes on the next turn of the loop. A failed write closes the
/// stream on the next turn (never inside the caller's write). Loop-bound.
final class PolledStream: PollHandler, ByteStream {
    private let poller: CorePoller
    private var fd: Int32
    private(set) var remoteAddress: SocketAddress?
    private var delegate: (any ByteStreamDelegate)?
    private var connected: ((Bool) -> Void)?

    private var queue: [ByteBuffer] = []
    private var queueStart = 0
    private var queued = 0
    private var socketWritable = true
    private var overHighWater = false
    private var closing = false
    private var failed = false

    private var reading = true
    private var readable = false
    private var peerShut = false
    private var inputEnded = false
    private var resumeScheduled = false

    static let highWater = 64 * 1024
    static let lowWater = 32 * 1024
    private static let writevLimit = 64
    /// As NIO's default `maxMessagesPerRead`.
    private static let readsPerRound = 4

    /// A connected socket (accepted), watched from now on. Nil: it could not be watched (closed).
    init?(accepted fd: Int32, peer: SocketAddress?, poller: CorePoller, delegate: any ByteStreamDelegate) {
        self.fd = fd
        self.poller = poller
        remoteAddress = peer
        self.delegate = delegate
        do {
            try poller.register(fd, self)
        } catch {
            Glibc.close(fd)
            return nil
        }
    }

    private init(fd: Int32, address: SocketAddress, poller: CorePoller) {
        self.fd = fd
        self.poller = poller
        remoteAddress = address
        socketWritable = false
    }

    /// Connects to `address`; `done(true)` once connected, `done(false)` when refused (or
    /// `abandon`ed: then `done` is not called). Nil: no socket (`done` is not called).
    static func connect(to address: SocketAddress, poller: CorePoller, done: @escaping (Bool) -> Void) -> PolledStream? {
        guard let fd = connectingSocket(to: address) else { return nil }
        let stream = PolledStream(fd: fd, address: address, poller: poller)
        do {
            try poller.register(fd, stream)
        } catch {
            Glibc.close(fd)
            return nil
        }
        stream.connected = done
        return stream
    }

    /// A non-blocking TCP socket (TCP_NODELAY) whose connect to `address` has started (or, on
    /// loopback, may have completed); nil when it failed at once (refused, no socket).
    static func connectingSocket(to address: SocketAddress) -> Int32? {
        let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
        guard result == 0 || errno == EINPROGRESS else {
            Glibc.close(fd)
            return nil
        }
        return fd
    }

    /// The delegate that hears of the stream from now on (once connected).
    func attach(_ delegate: any ByteStreamDelegate) {
        self.delegate = delegate
    }

    /// Gives up a connect in progress (timed out, or its request went away): closes the socket
    /// without calling back.
    func abandon() {
        connected = nil
        close()
    }

    var isActive: Bool { fd >= 0 && connected == nil }
    var isWritable: Bool { queued < Self.highWater }

    // MARK: events

    func ready(fd: Int32, events: UInt32) {
        if let connected {
            guard events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) == 0 else {
                self.connected = nil
                close()
                return connected(false)
            }
            guard events & EPOLLOUT.rawValue != 0 else { return }
            self.connected = nil
            socketWritable = true
            connected(true)
            guard self.fd >= 0 else { return }
        }
        if events & EPOLLERR.rawValue != 0 { return close() }
        if events & EPOLLOUT.rawValue != 0 {
            socketWritable = true
            flushQueue()
            guard self.fd >= 0 else { return }
        }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0 {
            readable = true
            if events & (EPOLLRDHUP.rawValue | EPOLLHUP.rawValue) != 0 { peerShut = true }
            readRound()
        }
    }

    /// Reads while reading is wanted and the socket has bytes, at most `readsPerRound` times
    /// (then the delegate's `streamReadComplete` may stop reading, as its peer's back-pressure
    /// asks; else the round goes on at the loop's next turn); tells the delegate.
    private func readRound() {
        var read = false
        var reads = 0
        let scratch = poller.scratch
        while reading && readable && !inputEnded && fd >= 0 {
            if reads == Self.readsPerRound {
                delegate?.streamReadComplete()
                read = false
                scheduleRead()
                return
            }
            reads += 1
            let count = recv(fd, scratch.baseAddress, scratch.count, 0)
            if count > 0 {
                if count < scratch.count && !peerShut { readable = false }
                read = true
                delegate?.streamRead(ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: scratch[0..<count])))
            } else if count == 0 {
                inputEnded = true
                readable = false
                if read { delegate?.streamReadComplete() }
                read = false
                delegate?.streamInputClosed()
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN: readable = false
                default: return close()
                }
            }
        }
        if read && fd >= 0 { delegate?.streamReadComplete() }
    }

    func setReading(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        // An edge already taken: nothing new may come to say so. Read on the loop's next turn,
        // not inside the caller.
        guard on else { return }
        scheduleRead()
    }

    private func scheduleRead() {
        guard reading, readable, !resumeScheduled, fd >= 0 else { return }
        resumeScheduled = true
        let bound = NIOLoopBound(self, eventLoop: poller.loop)
        poller.loop.execute {
            let stream = bound.value
            stream.resumeScheduled = false
            stream.readRound()
        }
    }

    // MARK: writing

    func write(_ bytes: ByteBuffer) {
        guard fd >= 0, !failed, bytes.readableBytes > 0 else { return }
        queue.append(bytes)
        queued += bytes.readableBytes
        if queued >= Self.highWater { overHighWater = true }
    }

    func flush() {
        flushQueue()
    }

    func closeAfterWrites() {
        closing = true
        flushQueue()
    }

    private func flushQueue() {
        while queueStart < queue.count && socketWritable && !failed && fd >= 0 {
            let written = writeSome()
            guard written >= 0 else {
                failed = true
                // Closed on the next turn: the caller is in the middle of its work.
                let bound = NIOLoopBound(self, eventLoop: poller.loop)
                poller.loop.execute { bound.value.close() }
                return
            }
            consume(written)
        }
        if queueStart == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueStart = 0
        }
        if closing && queued == 0 && fd >= 0 { return close() }
        if overHighWater && queued < Self.lowWater {
            overHighWater = false
            delegate?.streamWritable()
        }
    }

    /// One `writev` (or `send`) of the queue's head; the bytes written, or -1 when it failed.
    private func writeSome() -> Int {
        let count = min(queue.count - queueStart, Self.writevLimit)
        if count == 1 {
            let written = queue[queueStart].withUnsafeReadableBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return completed(written)
        }
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            withPointers(from: 0, count: count, into: vectors) { completed(writev(fd, vectors.baseAddress, Int32(count))) }
        }
    }

    /// Fills `vectors` with the readable bytes of the queue's first `count` buffers from `index`
    /// on, each kept valid until `body` returns (no copy of the queue).
    private func withPointers(from index: Int, count: Int, into vectors: UnsafeMutableBufferPointer<iovec>,
                              _ body: () -> Int) -> Int {
        guard index < count else { return body() }
        return queue[queueStart + index].withUnsafeReadableBytes { bytes in
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return withPointers(from: index + 1, count: count, into: vectors, body)
        }
    }

    private func completed(_ written: Int) -> Int {
        if written >= 0 { return written }
        switch errno {
        case EAGAIN, EINTR:
            if errno == EAGAIN { socketWritable = false }
            return 0
        default:
            return -1
        }
    }

    /// Drops `count` written bytes from the queue's head.
    private func consume(_ count: Int) {
        var left = count
        queued -= count
        while left > 0 {
            let size = queue[queueStart].readableBytes
            if size <= left {
                left -= size
                queue[queueStart] = ByteBuffer()
                queueStart += 1
            } else {
                queue[queueStart].moveReaderIndex(forwardBy: left)
                left = 0
            }
        }
    }

    // MARK: closing

    func abort() {
        guard fd >= 0 else { return }
        var reset = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    func close() {
        guard fd >= 0 else { return }
        poller.unregister(fd)
        Glibc.close(fd)
        fd = -1
        queue = []
        queueStart = 0
        queued = 0
        connected = nil
        guard let delegate else { return }
        self.delegate = nil
        delegate.streamClosed()
    }
}
