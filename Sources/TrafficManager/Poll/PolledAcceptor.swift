#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore
import NIOPosix

/// Accepts a vServer's connections from one core's listening raw socket (see
/// `VServerListener`): an HTTP client routed per request gets an `HTTPSession` on a raw
/// `PolledStream`; a plain TCP chain's connection is relayed on the core's poll set
/// (`PolledConnection`); one whose chain needs a channel (a service with TLS behind a TCP
/// vServer, or a vServer that became another kind since the socket was bound) is handed to NIO
/// on the same loop.
///
/// Loop-bound. Edge-triggered: it accepts until the backlog is empty, at most `batch` at a time
/// before letting the loop do other work; out of descriptors, it tries again 100 ms later.
final class PolledAcceptor: PollHandler {
    let name: String
    let fd: Int32
    let core: CoreRuntime
    private static let batch = 64

    init(name: String, fd: Int32, core: CoreRuntime) {
        self.name = name
        self.fd = fd
        self.core = core
    }

    func start() throws {
        try core.poller.register(fd, self)
    }

    func ready(fd: Int32, events: UInt32) {
        acceptAll()
    }

    private func acceptAll() {
        guard core.poller.isRegistered(fd, for: self) else { return }
        for _ in 0..<Self.batch {
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    ctms_accept4(fd, $0, &length, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if client >= 0 {
                accepted(client, peer: peer)
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO, EPERM:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // The backlog keeps the rest; no new edge may come for them: look again later.
                let bound = NIOLoopBound(self, eventLoop: core.loop)
                core.loop.scheduleTask(in: .milliseconds(100)) { bound.value.acceptAll() }
                return
            default:
                return  // EAGAIN: empty
            }
        }
        // More may wait, and this edge is spent: go on after what else the loop has to do.
        let bound = NIOLoopBound(self, eventLoop: core.loop)
        core.loop.execute { bound.value.acceptAll() }
    }

    private func accepted(_ client: Int32, peer: sockaddr_storage) {
        // A vServer removed by a reload may still accept a connection or two before its
        // sockets close: those are refused.
        guard let chain = core.table?.chains[name] else {
            Glibc.close(client)
            return
        }
        if chain.mode == .http && chain.primary.config.routing == .request && chain.primary.tls == nil {
            let session = HTTPSession(core: core, chain: chain)
            guard let stream = PolledStream(accepted: client, peer: peer.socketAddress, poller: core.poller, delegate: session) else { return }
            session.attach(stream)
            return
        }
        guard chain.needsChannels else {
            PolledConnection(core: core, chain: chain, fd: client, peer: peer).accept()
            return
        }
        let box = core.dataPlane.cores[core.index]
        let name = name
        ClientBootstrap(group: core.loop)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try VServerListener.initialize(channel, name: name, core: box.value) }
            }
            .withConnectedSocket(client)
            .whenFailure { _ in }
    }
}
