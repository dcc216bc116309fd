import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// One member of a session-store cluster (task `session-store`, in CVMs of image cvm-tms): the
/// spillover persistence pins (client → backup vServer, per primary vServer, with an expiry)
/// that traffic managers share. The **master** takes writes; every write goes to each servant
/// that is in sync and is acknowledged to the writer only once they all applied it (a servant
/// that does not answer within ``replicationTimeout`` is cut off, and is in sync again only
/// after a full copy). With `minReplicas`, a write that fewer servants in sync could take is
/// refused. A **servant** copies the master (`replicaOf`) and answers reads; promoted (its
/// configuration says master), it keeps its table and takes writes.
///
/// Lines, tab-separated, names escaped like the monitoring stream's, at most
/// ``maximumLength`` bytes:
///
///     SET <id> <vServer> <client> <target> <expiresMs>  → OK <id> | ERR <id> <why>
///     GET <id> <vServer> <client>                       → VAL <id> <target|-> <expiresMs>
///     SUB                    → every pin as C lines, E <rev>, then each change as a C line
///     REPLICA                → the same, and the servant acknowledges: A <rev>
///     C <rev> <vServer> <client> <target> <expiresMs>   a pin (the store's revision)
public final class SessionStoreServer: Sendable {
    public let address: HostPort
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let core: NIOLoopBoundBox<SessionStoreCore>

    public static let maximumLength = 2048
    public static let replicationTimeout = TimeAmount.seconds(1)
    /// At most this many pins (a write beyond is refused).
    public static let maximumPins = 1_000_000

    private init(address: HostPort, group: MultiThreadedEventLoopGroup, channel: any Channel, core: NIOLoopBoundBox<SessionStoreCore>) {
        self.address = address
        self.group = group
        self.channel = channel
        self.core = core
    }

    public static func start(_ config: SessionStoreConfig.Server, logger: Logger) async throws -> SessionStoreServer {
        let serverContext = try config.tls?.serverContext()
        let clientContext = try config.tls?.clientContext()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        do {
            let core = try await loop.submit {
                NIOLoopBoundBox.makeBoxSendingValue(SessionStoreCore(loop: loop, clientContext: clientContext, logger: logger), eventLoop: loop)
            }.get()
            let channel = try await ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let serverContext { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: serverContext)) }
                        try channel.pipeline.syncOperations.addHandler(SessionStoreHandler(core: core.value))
                    }
                }
                .bind(to: try config.listen.socketAddress()).get()
            let bound = HostPort(host: config.listen.host, port: channel.localAddress?.port ?? config.listen.port)
            let server = SessionStoreServer(address: bound, group: group, channel: channel, core: core)
            try await server.configure(config)
            logger.notice("session store listening on \(bound) as \(config.replicaOf.map { "servant of \($0)" } ?? "master")")
            return server
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Applies a role (master, or servant of `replicaOf`) and `minReplicas`, keeping the table.
    public func configure(_ config: SessionStoreConfig.Server) async throws {
        try await channel.eventLoop.submit { [core] in
            core.value.configure(replicaOf: config.replicaOf, minReplicas: config.minReplicas)
        }.get()
    }

    public func close() async {
        try? await channel.eventLoop.submit { [core] in core.value.shutdown() }.get()
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    /// Pins held, and the revision (for tests and status).
    public var state: (pins: Int, revision: UInt64, replicasInSync: Int) {
        get async {
            (try? await channel.eventLoop.submit { [core] in
                (core.value.table.count, core.value.revision, core.value.replicas.values.filter(\.inSync).count)
            }.get()) ?? (0, 0, 0)
        }
    }
}

struct PinKey: Hashable {
    var vServer: String
    var client: String
}

struct Pin: Equatable {
    var target: String
    var expiresMs: UInt64
    var revision: UInt64
}

/// The store's state, on its one event loop.
final class SessionStoreCore {
    let loop: any EventLoop
    let clientContext: NIOSSLContext?
    let logger: Logger
    var table: [PinKey: Pin] = [:]
    var revision: UInt64 = 0
    var replicaOf: HostPort?
    var minReplicas = 0
    /// Connections that receive changes: subscribers and replicas, by connection.
    var replicas: [ObjectIdentifier: Peer] = [:]
    var subscribers: [ObjectIdentifier: ChannelHandlerContext] = [:]
    /// Writes waiting for their replication, oldest first.
    var pending: [(revision: UInt64, id: String, context: ChannelHandlerContext, since: NIODeadline)] = []
    var upstream: (any Channel)?
    var sweeper: RepeatedTask?
    private var sweeps = 0
    var stopped = false

    struct Peer {
        var context: ChannelHandlerContext
        var acked: UInt64 = 0
        /// In sync once it acknowledged the copy it was sent on joining.
        var inSync = false
        var joinedAt: UInt64
    }

    init(loop: any EventLoop, clientContext: NIOSSLContext?, logger: Logger) {
        self.loop = loop
        self.clientContext = clientContext
        self.logger = logger
        sweeper = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { [weak self] _ in
            self?.sweep()
        }
    }

    var isMaster: Bool { replicaOf == nil }

    func configure(replicaOf: HostPort?, minReplicas: Int) {
        self.minReplicas = minReplicas
        guard replicaOf != self.replicaOf || (replicaOf != nil && upstream == nil) else { return }
        let wasServant = self.replicaOf != nil
        self.replicaOf = replicaOf
        upstream?.close(promise: nil)
        upstream = nil
        if let replicaOf {
            // A master that becomes a servant: its replicas and subscribers go (they follow the
            // new master), and its pending writes fail.
            for (_, peer) in replicas { peer.context.close(promise: nil) }
            for (_, context) in subscribers { context.close(promise: nil) }
            for write in pending { send("ERR\t\(write.id)\tno longer the master\n", to: write.context) }
            pending = []
            connectUpstream(replicaOf)
        } else if wasServant {
            logger.notice("session store: promoted to master with \(table.count) pins (revision \(revision))")
        }
    }

    func shutdown() {
        stopped = true
        sweeper?.cancel()
        upstream?.close(promise: nil)
    }

    // MARK: writes and reads

    func set(id: String, key: PinKey, target: String, expiresMs: UInt64, from context: ChannelHandlerContext) {
        guard isMaster else { return send("ERR\t\(id)\tnot the master\n", to: context) }
        let inSync = replicas.values.filter(\.inSync).count
        guard inSync >= minReplicas else {
            return send("ERR\t\(id)\treplication required: \(inSync) of \(minReplicas) servants in sync\n", to: context)
        }
        guard table.count < SessionStoreServer.maximumPins || table[key] != nil else {
            return send("ERR\t\(id)\tthe store holds \(SessionStoreServer.maximumPins) pins\n", to: context)
        }
        revision += 1
        table[key] = Pin(target: target, expiresMs: expiresMs, revision: revision)
        broadcast(key, table[key]!)
        if inSync == 0 {
            send("OK\t\(id)\n", to: context)
        } else {
            pending.append((revision, id, context, .now()))
        }
    }

    func get(id: String, key: PinKey, context: ChannelHandlerContext) {
        let pin = table[key].flatMap { $0.expiresMs > Self.nowMs ? $0 : nil }
        send("VAL\t\(id)\t\(pin.map { MonitorStreamLine.escape($0.target) } ?? "-")\t\(pin?.expiresMs ?? 0)\n", to: context)
    }

    /// A subscriber or a replica joins: everything it needs, then the changes.
    func join(_ context: ChannelHandlerContext, replica: Bool) {
        var text = ""
        let now = Self.nowMs
        for (key, pin) in table where pin.expiresMs > now { text += line(key, pin) }
        text += "E\t\(revision)\n"
        send(text, to: context)
        let id = ObjectIdentifier(context.channel)
        if replica {
            replicas[id] = Peer(context: context, joinedAt: revision)
        } else {
            subscribers[id] = context
        }
    }

    func acknowledged(_ revision: UInt64, by context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        guard var peer = replicas[id] else { return }
        peer.acked = max(peer.acked, revision)
        if !peer.inSync, peer.acked >= peer.joinedAt {
            peer.inSync = true
            logger.notice("session store: a servant is in sync (revision \(peer.acked))")
        }
        replicas[id] = peer
        settle()
    }

    func left(_ context: ChannelHandlerContext) {
        let id = ObjectIdentifier(context.channel)
        replicas[id] = nil
        subscribers[id] = nil
        pending.removeAll { ObjectIdentifier($0.context.channel) == id }
        settle()
    }

    /// Acknowledges the writes every in-sync servant has.
    private func settle() {
        let floor = replicas.values.filter(\.inSync).map(\.acked).min() ?? .max
        while let first = pending.first, first.revision <= floor {
            pending.removeFirst()
            send("OK\t\(first.id)\n", to: first.context)
        }
    }

    private func sweep() {
        // A servant that leaves a write unacknowledged too long is cut off (it copies again).
        if let first = pending.first, NIODeadline.now() - first.since > SessionStoreServer.replicationTimeout {
            for (_, peer) in replicas where peer.inSync && peer.acked < first.revision {
                logger.error("session store: a servant did not acknowledge revision \(first.revision) within \(SessionStoreServer.replicationTimeout.nanoseconds / 1_000_000) ms; cut off until it copies again")
                peer.context.close(promise: nil)
                replicas[ObjectIdentifier(peer.context.channel)] = nil
            }
            settle()
        }
        // Expired pins go once a second (reads skip them meanwhile).
        sweeps += 1
        if sweeps % 10 == 0, !table.isEmpty {
            let now = Self.nowMs
            table = table.filter { $0.value.expiresMs > now }
        }
    }

    private func broadcast(_ key: PinKey, _ pin: Pin) {
        let text = line(key, pin)
        for (_, peer) in replicas { send(text, to: peer.context) }
        for (_, context) in subscribers { send(text, to: context) }
    }

    func line(_ key: PinKey, _ pin: Pin) -> String {
        "C\t\(pin.revision)\t\(MonitorStreamLine.escape(key.vServer))\t\(MonitorStreamLine.escape(key.client))\t\(MonitorStreamLine.escape(pin.target))\t\(pin.expiresMs)\n"
    }

    func send(_ text: String, to context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text)), promise: nil)
    }

    static var nowMs: UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    // MARK: the servant's copy

    private func connectUpstream(_ master: HostPort) {
        guard !stopped, replicaOf == master, let target = try? master.socketAddress() else { return }
        let handler = ReplicaHandler(core: self)
        let context = clientContext
        let bound = NIOLoopBound(handler, eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(1))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(bound.value)
                }
            }
            .connect(to: target)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard replicaOf == master else { channel.close(promise: nil); return }
                    upstream = channel
                    channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
                        if upstream === channel { upstream = nil }
                        loop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { self.connectUpstream(master) }
                    }
                case .failure:
                    loop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { self.connectUpstream(master) }
                }
            }
    }

    /// A pin from the master (the servant's copy, or a new master's view of one).
    func apply(_ key: PinKey, _ pin: Pin) {
        table[key] = pin
        revision = max(revision, pin.revision)
    }
}

/// Parses one `C` line: revision, key and pin.
func parseChange(_ fields: [Substring]) -> (PinKey, Pin)? {
    guard fields.count == 6, fields[0] == "C", let revision = UInt64(fields[1]),
          let vServer = MonitorStreamLine.unescape(fields[2]), let client = MonitorStreamLine.unescape(fields[3]),
          let target = MonitorStreamLine.unescape(fields[4]), fields[5].utf8.count <= 16, let expires = UInt64(fields[5]) else { return nil }
    return (PinKey(vServer: vServer, client: client), Pin(target: target, expiresMs: expires, revision: revision))
}

private final class SessionStoreHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: SessionStoreCore
    private var buffer = LineBuffer(limit: SessionStoreServer.maximumLength)

    init(core: SessionStoreCore) { self.core = core }

    func channelInactive(context: ChannelHandlerContext) {
        core.left(context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let (lines, tooLong) = buffer.lines(&bytes)
        guard !tooLong else { return context.close(promise: nil) }
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            switch (fields.first, fields.count) {
            case ("SET", 6):
                guard let vServer = MonitorStreamLine.unescape(fields[2]), let client = MonitorStreamLine.unescape(fields[3]),
                      let target = MonitorStreamLine.unescape(fields[4]), fields[1].utf8.count <= 20, fields[5].utf8.count <= 16,
                      let expires = UInt64(fields[5]) else { return context.close(promise: nil) }
                core.set(id: String(fields[1]), key: PinKey(vServer: vServer, client: client), target: target, expiresMs: expires, from: context)
            case ("GET", 4):
                guard let vServer = MonitorStreamLine.unescape(fields[2]), let client = MonitorStreamLine.unescape(fields[3]),
                      fields[1].utf8.count <= 20 else { return context.close(promise: nil) }
                core.get(id: String(fields[1]), key: PinKey(vServer: vServer, client: client), context: context)
            case ("SUB", 1):
                guard core.isMaster else { core.send("ERR\t-\tnot the master\n", to: context); return context.close(promise: nil) }
                core.join(context, replica: false)
            case ("REPLICA", 1):
                guard core.isMaster else { core.send("ERR\t-\tnot the master\n", to: context); return context.close(promise: nil) }
                core.join(context, replica: true)
            case ("A", 2):
                guard let revision = UInt64(fields[1]) else { return context.close(promise: nil) }
                core.acknowledged(revision, by: context)
            default:
                return context.close(promise: nil)
            }
        }
    }
}

/// The servant's end of its copy: applies the master's pins and acknowledges each batch.
private final class ReplicaHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let core: SessionStoreCore
    private var buffer = LineBuffer(limit: SessionStoreServer.maximumLength)
    private var copying = true
    private var copy: [PinKey: Pin] = [:]

    init(core: SessionStoreCore) { self.core = core }

    func channelActive(context: ChannelHandlerContext) {
        core.send("REPLICA\n", to: context)
        context.fireChannelActive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let (lines, tooLong) = buffer.lines(&bytes)
        guard !tooLong else { return context.close(promise: nil) }
        var last: UInt64?
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            if fields.first == "E", fields.count == 2, let revision = UInt64(fields[1]) {
                // The whole copy arrived: it replaces the table.
                core.table = copy
                core.revision = revision
                copy = [:]
                copying = false
                last = revision
                core.logger.notice("session store: copied the master: \(core.table.count) pins (revision \(revision))")
            } else if let (key, pin) = parseChange(fields), copy.count < SessionStoreServer.maximumPins {
                if copying { copy[key] = pin } else { core.apply(key, pin); last = pin.revision }
            } else {
                return context.close(promise: nil)
            }
        }
        if let last { core.send("A\t\(last)\n", to: context) }
    }
}
