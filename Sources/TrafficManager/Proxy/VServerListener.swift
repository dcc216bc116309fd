#if canImport(Glibc)
import Glibc
#endif
import CTMSPoll
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The listening sockets of one vServer: one per core, each on its core's event loop, all
/// bound to the same address with SO_REUSEPORT so the kernel spreads new connections over the
/// cores and each core accepts its own. A connection accepted on core `c` is routed with the
/// table core `c` holds for the vServer's name at that moment.
///
/// A vServer without TLS on its listener, TCP or HTTP routed per request, listens on raw
/// sockets in each core's poll set (`PolledAcceptor`), and its connections are served below NIO
/// (`PolledConnection`, or an `HTTPSession` on a `PolledStream`); any other listens through NIO
/// channels. The sockets listen from `bind` on but accept nothing
/// until `startAccepting`: a client that connects before the routing table naming the vServer
/// is published waits in the kernel's backlog instead of being accepted and refused.
final class VServerListener: Sendable {
    let name: String
    let configured: HostPort
    /// The address actually bound (the port chosen by the kernel when 0 was configured).
    let bound: HostPort
    /// Whether the sockets are raw ones in the cores' poll sets.
    var isPolled: Bool { if case .polled = sockets { true } else { false } }
    private let sockets: Sockets
    private let dataPlane: DataPlane
    private let closed = Atomic<Bool>(false)

    private enum Sockets {
        case channels([any Channel])
        /// A descriptor per core.
        case polled([Int32])
    }

    private init(name: String, configured: HostPort, bound: HostPort, sockets: Sockets, dataPlane: DataPlane) {
        self.name = name
        self.configured = configured
        self.bound = bound
        self.sockets = sockets
        self.dataPlane = dataPlane
    }

    /// Binds `address` on every core. With port 0, core 0 picks a port and the others join it.
    static func bind(name: String, address: HostPort, polled: Bool, dataPlane: DataPlane) async throws -> VServerListener {
        var port = address.port
        if polled {
            var fds: [Int32] = []
            do {
                for _ in dataPlane.loops {
                    let fd = try listen(on: SocketAddress(ipAddress: address.host, port: port))
                    fds.append(fd)
                    if port == 0 { port = try boundPort(of: fd) }
                }
            } catch {
                for fd in fds { Glibc.close(fd) }
                throw error
            }
            return VServerListener(name: name, configured: address, bound: HostPort(host: address.host, port: port),
                                   sockets: .polled(fds), dataPlane: dataPlane)
        }
        var channels: [any Channel] = []
        do {
            for (index, loop) in dataPlane.loops.enumerated() {
                let target = try SocketAddress(ipAddress: address.host, port: port)
                let channel = try await bootstrap(name: name, loop: loop, core: dataPlane.cores[index]).bind(to: target).get()
                channels.append(channel)
                if port == 0 { port = channel.localAddress?.port ?? 0 }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        return VServerListener(name: name, configured: address, bound: HostPort(host: address.host, port: port),
                               sockets: .channels(channels), dataPlane: dataPlane)
    }

    private static func bootstrap(name: String, loop: any EventLoop, core: NIOLoopBoundBox<CoreRuntime?>) -> ServerBootstrap {
        ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.autoRead, value: false)
            .serverChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try initialize(channel, name: name, core: core.value) }
            }
    }

    /// Sets up an accepted client's channel: an HTTP session (per-request routing) or a relayed
    /// connection, behind the listener's TLS if any.
    static func initialize(_ channel: any Channel, name: String, core runtime: CoreRuntime?) throws {
        // A vServer removed by a reload may still accept a connection or two before its
        // sockets close: those are refused.
        guard let runtime, let chain = runtime.table?.chains[name] else {
            throw ListenerError.vServerRemoved(name)
        }
        if chain.mode == .http && chain.primary.config.routing == .request {
            if let tls = chain.primary.tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            try HTTPSession(core: runtime, chain: chain).configure(channel)
            return
        }
        let connection = ChannelConnection(core: runtime, frontend: channel, chain: chain)
        if let tls = chain.primary.tls {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            connection.clientHandler.routeAfterHandshake = true
        }
        try channel.pipeline.syncOperations.addHandler(connection.clientHandler)
    }

    /// A listening raw socket (non-blocking, SO_REUSEPORT, TCP_NODELAY inherited by accepted ones).
    private static func listen(on address: SocketAddress) throws -> Int32 {
        let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw PollError(call: "socket", errno: errno) }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) == 0,
              setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, size) == 0,
              setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, size) == 0,
              address.withSockAddr({ Glibc.bind(fd, $0, socklen_t($1)) }) == 0,
              Glibc.listen(fd, 4096) == 0 else {
            let error = PollError(call: "bind \(address)", errno: errno)
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    private static func boundPort(of fd: Int32) throws -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0, let port = storage.socketAddress?.port else { throw PollError(call: "getsockname", errno: errno) }
        return port
    }

    /// Starts accepting on every core (once the table that routes the vServer is published).
    func startAccepting() async throws {
        switch sockets {
        case .channels(let channels):
            for channel in channels { try await channel.setOption(.autoRead, value: true) }
        case .polled(let fds):
            for (index, fd) in fds.enumerated() {
                let box = dataPlane.cores[index]
                let name = name
                try await dataPlane.loops[index].submit {
                    guard let core = box.value else { return }
                    try PolledAcceptor(name: name, fd: fd, core: core).start()
                }.get()
            }
        }
    }

    /// Stops accepting (connections already accepted go on). Once: a raw descriptor closed twice
    /// could close another socket that took its number meanwhile (a shutdown closed every
    /// listener, then closed them again; NIO crashed on a channel whose socket went under it).
    /// Returns whether this call closed the sockets.
    @discardableResult
    func close() async -> Bool {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        switch sockets {
        case .channels(let channels):
            for channel in channels { try? await channel.close() }
        case .polled(let fds):
            for (index, fd) in fds.enumerated() {
                let box = dataPlane.cores[index]
                let done = try? await dataPlane.loops[index].submit {
                    box.value?.poller.unregister(fd)
                    Glibc.close(fd)
                }.get()
                // The data plane stopped already: nothing watches the socket any more.
                if done == nil { Glibc.close(fd) }
            }
        }
        return true
    }
}

enum ListenerError: Error, CustomStringConvertible {
    case vServerRemoved(String)

    var description: String {
        switch self {
        case .vServerRemoved(let name): return "vServer \(name) is no longer configured"
        }
    }
}
