#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import NIOSSL

/// The listening sockets of one vServer: one per core, each on its core's event loop, all
/// bound to the same address with SO_REUSEPORT so the kernel spreads new connections over the
/// cores and each core accepts its own. A connection accepted on core `c` is routed with the
/// table core `c` holds for the vServer's name at that moment.
///
/// The sockets listen from `bind` on but accept nothing until `startAccepting`: a client that
/// connects before the routing table naming the vServer is published waits in the kernel's
/// backlog instead of being accepted and refused.
final class VServerListener: Sendable {
    let name: String
    let configured: HostPort
    /// The address actually bound (the port chosen by the kernel when 0 was configured).
    let bound: HostPort
    private let channels: [any Channel]

    private init(name: String, configured: HostPort, bound: HostPort, channels: [any Channel]) {
        self.name = name
        self.configured = configured
        self.bound = bound
        self.channels = channels
    }

    /// Binds `address` on every core. With port 0, core 0 picks a port and the others join it.
    static func bind(name: String, address: HostPort, dataPlane: DataPlane) async throws -> VServerListener {
        var channels: [any Channel] = []
        var port = address.port
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
        return VServerListener(name: name, configured: address, bound: HostPort(host: address.host, port: port), channels: channels)
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
                channel.eventLoop.makeCompletedFuture {
                    // A vServer removed by a reload may still accept a connection or two
                    // before its sockets close: those are refused.
                    guard let runtime = core.value, let chain = runtime.table?.chains[name] else {
                        throw ListenerError.vServerRemoved(name)
                    }
                    if chain.mode == .http && chain.primary.config.routing == .request {
                        if let tls = chain.primary.tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try HTTPSession(core: runtime, chain: chain).configure(channel)
                        return
                    }
                    let connection = ProxyConnection(core: runtime, frontend: channel, chain: chain)
                    if let tls = chain.primary.tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        connection.clientHandler.routeAfterHandshake = true
                    }
                    try channel.pipeline.syncOperations.addHandler(connection.clientHandler)
                }
            }
    }

    /// Starts accepting on every core (once the table that routes the vServer is published).
    func startAccepting() async throws {
        for channel in channels { try await channel.setOption(.autoRead, value: true) }
    }

    /// Stops accepting (connections already accepted go on).
    func close() async {
        for channel in channels { try? await channel.close() }
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
