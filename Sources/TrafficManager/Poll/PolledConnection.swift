#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore

/// A plain TCP connection relayed on its core's poll set, below NIO's channels: the accepted
/// socket and the service's socket are raw descriptors, added once to the set, edge-triggered.
/// Per connection that is two `epoll_ctl` in all and no address look-ups (the client's address
/// comes with `accept4`), where two NIO channels make about thirteen and seven.
///
/// The relay: each direction reads into the core's scratch buffer and writes on at once; what
/// its destination cannot take is kept (at most one read, 64 KiB) and reading that direction
/// stops until it is written (back-pressure: a slow reader stalls the writer, nothing piles
/// up). A read of 0 passes the FIN on once nothing is pending (half-close); the connection
/// ends when both directions have, or at the first error either way (both sockets close).
/// Routing, quota, counters, the access log and the sweep's timeouts are `ProxyConnection`'s.
/// A connect that has not completed after the vServer's connect timeout fails at the sweep
/// (within 100 ms of it).
///
/// Loop-bound, like every connection of its core.
final class PolledConnection: ProxyConnection, PollHandler {
    private let client: Int32
    private var service: Int32 = -1
    private let peer: sockaddr_storage
    private let poller: CorePoller
    private var up = Flow()
    private var down = Flow()
    private var clientWritable = true
    private var serviceWritable = false
    private var connectStarted: UInt64 = 0
    private var connectTimeout: UInt64 = 0
    private var ended = false

    /// One direction of the relay.
    private struct Flow {
        /// The source may have bytes: an edge not yet read to the end.
        var readable = false
        /// The source's peer shut its output (read to the end, whatever the read sizes).
        var peerShut = false
        /// The source's input ended (a read returned 0).
        var ended = false
        /// The FIN was passed on (the destination's output is shut).
        var shut = false
        /// Read but not yet written (the destination could not take it).
        var pending: [UInt8] = []
        var pendingStart = 0

        var hasPending: Bool { pendingStart < pending.count }
        /// The input ended and everything read was written on.
        var isOver: Bool { ended && !hasPending }
    }

    init(core: CoreRuntime, chain: RouteChain, fd: Int32, peer: sockaddr_storage) {
        client = fd
        self.peer = peer
        poller = core.poller
        super.init(core: core, chain: chain)
    }

    /// Watches the client's socket and routes the connection (or closes the socket).
    func accept() {
        do {
            try poller.register(client, self)
        } catch {
            Glibc.close(client)
            return
        }
        start()
    }

    override var clientAddress: SocketAddress? { peer.socketAddress }

    // MARK: connecting

    override func openService(_ address: SocketAddress, of member: VServerRuntime, index: Int) {
        guard let fd = PolledStream.connectingSocket(to: address) else { return serviceFailed() }
        do {
            try poller.register(fd, self)
        } catch {
            Glibc.close(fd)
            return serviceFailed()
        }
        service = fd
        connectStarted = MonotonicTime.nanos()
        connectTimeout = UInt64(member.config.connectTimeout.totalNanoseconds)
        serviceWritable = false
        down = Flow()
    }

    /// The connect failed or timed out: close its socket and try the next service.
    private func connectFailed() {
        closeService()
        serviceFailed()
    }

    private func closeService() {
        guard service >= 0 else { return }
        poller.unregister(service)
        Glibc.close(service)
        service = -1
    }

    // MARK: events

    func ready(fd: Int32, events: UInt32) {
        guard !ended else { return }
        let began = MonotonicTime.nanos()
        let failed = events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
        if fd == client {
            if events & EPOLLOUT.rawValue != 0 { clientWritable = true }
            if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || failed { up.readable = true }
            if events & EPOLLRDHUP.rawValue != 0 || failed { up.peerShut = true }
            // A client gone before its relay started (waiting for quota or a service).
            if failed && phase != .relaying { return closeClient() }
        } else if fd == service {
            if phase == .connecting {
                guard !failed, events & EPOLLOUT.rawValue != 0 else { return failed ? connectFailed() : () }
                guard serviceConnected() else { return closeService() }
            }
            if events & EPOLLOUT.rawValue != 0 { serviceWritable = true }
            if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || failed { down.readable = true }
            if events & EPOLLRDHUP.rawValue != 0 || failed { down.peerShut = true }
        }
        guard phase == .relaying else { return }
        // An error is pending on a socket (a reset): the connection is over, even when the
        // relay is not reading that side (its peer does not take what is pending).
        guard events & EPOLLERR.rawValue == 0 else { return end() }
        pump()
        busy(from: began, to: MonotonicTime.nanos())
    }

    /// Moves what can be moved both ways; passes a FIN on once its direction has nothing
    /// pending; ends the connection when both directions have ended (closing both sockets: no
    /// separate shutdown when both FINs came in the same turn) or either failed.
    private func pump() {
        guard transfer(&up, from: client, to: service, writable: &serviceWritable, side: .client),
              transfer(&down, from: service, to: client, writable: &clientWritable, side: .service) else {
            return end()
        }
        if up.isOver && down.isOver { return end() }
        guard passFIN(&up, to: service), passFIN(&down, to: client) else { return end() }
    }

    /// Shuts `destination`'s output once `flow` is over (half-close); false when that failed.
    private func passFIN(_ flow: inout Flow, to destination: Int32) -> Bool {
        guard flow.isOver, !flow.shut else { return true }
        flow.shut = true
        return shutdown(destination, Int32(SHUT_WR)) == 0 || errno == ENOTCONN
    }

    /// One direction: writes what is pending, then reads and writes on until the source has
    /// nothing more or the destination takes nothing more. False: a socket failed (reset, or
    /// an error other than would-block).
    private func transfer(_ flow: inout Flow, from source: Int32, to destination: Int32, writable: inout Bool,
                          side: RelayHandler.Side) -> Bool {
        if flow.hasPending {
            guard writable else { return true }
            let count = flow.pending.count - flow.pendingStart
            let written = flow.pending.withUnsafeBytes { bytes in
                Self.send(destination, bytes.baseAddress! + flow.pendingStart, count, writable: &writable)
            }
            guard written >= 0 else { return false }
            flow.pendingStart += written
            guard !flow.hasPending else { return true }
            flow.pending = []
            flow.pendingStart = 0
        }
        let scratch = poller.scratch
        while flow.readable && !flow.ended && !flow.hasPending {
            let count = recv(source, scratch.baseAddress, scratch.count, 0)
            if count > 0 {
                relayed(count, from: side)
                let written = writable ? Self.send(destination, scratch.baseAddress!, count, writable: &writable) : 0
                guard written >= 0 else { return false }
                if written < count {
                    flow.pending = Array(UnsafeRawBufferPointer(rebasing: scratch[written..<count]))
                    flow.pendingStart = 0
                }
                // A short read emptied the socket: what arrives later is a new edge. After the
                // peer's FIN there is no later edge: read on to the end.
                if count < scratch.count && !flow.peerShut { flow.readable = false }
            } else if count == 0 {
                flow.ended = true
                flow.readable = false
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN: flow.readable = false
                default: return false
                }
            }
        }
        return true
    }

    /// Writes up to `count` bytes; returns how many were taken (clearing `writable` when the
    /// socket took fewer), or -1 when it failed.
    private static func send(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, writable: inout Bool) -> Int {
        var offset = 0
        while offset < count {
            let written = Glibc.send(fd, bytes + offset, count - offset, Int32(MSG_NOSIGNAL))
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else if written < 0 && errno == EAGAIN {
                writable = false
                break
            } else {
                return -1
            }
        }
        return offset
    }

    // MARK: ending

    override func shouldClose(now: UInt64, closeAllDeadline: UInt64?) -> Bool {
        if phase == .connecting, service >= 0, now &- connectStarted >= connectTimeout {
            connectFailed()
        }
        return !ended && super.shouldClose(now: now, closeAllDeadline: closeAllDeadline)
    }

    override func closeClient() {
        end()
    }

    /// Closes both sockets and ends the connection (once).
    private func end() {
        guard !ended else { return }
        ended = true
        poller.unregister(client)
        Glibc.close(client)
        closeService()
        finish()
    }

    override func dropService() {
        closeService()
    }
}

extension sockaddr_storage {
    /// The address `accept4` filled in.
    var socketAddress: SocketAddress? {
        var copy = self
        return withUnsafePointer(to: &copy) { pointer -> SocketAddress? in
            switch Int32(pointer.pointee.ss_family) {
            // No host name: NIO would otherwise write the address's text (`inet_ntop`, `sprintf`)
            // for every connection; `ipText` writes it when it is needed.
            case AF_INET: return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            case AF_INET6: return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: "") }
            default: return nil
            }
        }
    }
}
