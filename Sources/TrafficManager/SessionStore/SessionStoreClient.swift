import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TMSCore

/// A traffic manager's end of the session store (see ``SessionStoreConfig``): subscribes to
/// the master's pins and keeps them in the vServers' local persistence tables (routing reads
/// only those: a slow or lost store never stalls a connection), and writes the pins this
/// process makes, every 20 ms. Reconnects every half second while the master cannot be
/// reached; after a copy, writes the pins it made meanwhile that the store lacks. Runs on the
/// control loop.
final class SessionStoreClient: Sendable {
    let address: HostPort
    private let loop: any EventLoop
    private let box: NIOLoopBoundBox<State>
    let status = Locked(SessionStoreStatus())

    struct State {
        var stopped = false
        var channel: (any Channel)?
        var handler: SessionClientHandler?
        var timer: RepeatedTask?
    }

    private init(address: HostPort, loop: any EventLoop) {
        self.address = address
        self.loop = loop
        box = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    /// `tables`: the persistence tables in force by primary vServer name (read on each use: a
    /// reload may replace them).
    static func start(address: HostPort, tls: TLSConfig?, loop: any EventLoop, logger: Logger,
                      tables: @escaping @Sendable () -> [String: PersistenceTable]) async throws -> SessionStoreClient {
        let context = try tls?.clientContext()
        let client = SessionStoreClient(address: address, loop: loop)
        try await loop.submit {
            client.connect(context: context, logger: logger, tables: tables)
            client.box.value.timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { _ in
                client.flush(tables: tables)
            }
        }.get()
        return client
    }

    private func connect(context: NIOSSLContext?, logger: Logger, tables: @escaping @Sendable () -> [String: PersistenceTable]) {
        guard !box.value.stopped, let target = try? address.socketAddress() else { return }
        let handler = SessionClientHandler(client: self, logger: logger, tables: tables)
        let bound = NIOLoopBound(handler, eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(1))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
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
                    box.value.channel = channel
                    box.value.handler = handler
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        self.box.value.channel = nil
                        self.box.value.handler = nil
                        let was = self.status.withLock { status -> Bool in
                            defer { status.connected = false }
                            return status.connected
                        }
                        if was { logger.notice("session store: the master at \(self.address) went away; persistence goes on with the local tables") }
                        self.loop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { self.connect(context: context, logger: logger, tables: tables) }
                    }
                case .failure:
                    self.loop.assumeIsolated().scheduleTask(in: .milliseconds(500)) { self.connect(context: context, logger: logger, tables: tables) }
                }
            }
    }

    /// Sends the pins the cores made since the last flush (dropped while not connected: the
    /// copy after reconnecting writes what the store lacks).
    private func flush(tables: @Sendable () -> [String: PersistenceTable]) {
        let handler = box.value.handler
        for (vServer, table) in tables() {
            let pins = table.outbox.withLock { outbox -> [(client: String, target: String, expires: Duration)] in
                defer { outbox.removeAll(keepingCapacity: true) }
                return outbox
            }
            guard let handler, !pins.isEmpty else { continue }
            for pin in pins { handler.write(vServer: vServer, client: pin.client, target: pin.target, expires: pin.expires) }
        }
        handler?.flush()
    }

    /// Asks the master for one pin (what the lookup benchmark measures; routing never asks).
    func lookup(vServer: String, client: String) async throws -> String? {
        let promise = loop.makePromise(of: String?.self)
        loop.execute { [box] in
            guard let handler = box.value.handler else {
                promise.fail(SessionStoreError("not connected to the session store"))
                return
            }
            handler.get(vServer: vServer, client: client, promise: promise)
        }
        return try await promise.futureResult.get()
    }

    func stop() async {
        try? await loop.submit { [box] in
            box.value.stopped = true
            box.value.timer?.cancel()
            box.value.channel?.close(promise: nil)
        }.get()
    }
}

/// How a traffic manager's connection to its session store fares.
public struct SessionStoreStatus: Sendable, Hashable, Codable {
    public var connected = false
    /// Pins written, acknowledged by the master (so held by every servant in sync), refused.
    public var written = 0
    public var acknowledged = 0
    public var refused = 0
    public var lastRefusal: String?
    /// Pins received from the store.
    public var received = 0
}

public struct SessionStoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

final class SessionClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    unowned let client: SessionStoreClient
    let logger: Logger
    let tables: @Sendable () -> [String: PersistenceTable]
    private var context: ChannelHandlerContext?
    private var buffer = LineBuffer(limit: SessionStoreServer.maximumLength)
    private var copying = true
    private var copied: Set<PinKey> = []
    private var nextID = 0
    private var gets: [String: EventLoopPromise<String?>] = [:]
    private var out = ""
    private var refusalsLogged = 0

    init(client: SessionStoreClient, logger: Logger, tables: @escaping @Sendable () -> [String: PersistenceTable]) {
        self.client = client
        self.logger = logger
        self.tables = tables
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: "SUB\n")), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        for (_, promise) in gets { promise.fail(SessionStoreError("the session store went away")) }
        gets = [:]
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func write(vServer: String, client: String, target: String, expires: Duration) {
        guard context != nil else { return }
        let remaining = expires - MonotonicTime.now()
        guard remaining > .zero else { return }
        nextID += 1
        out += "SET\tw\(nextID)\t\(MonitorStreamLine.escape(vServer))\t\(MonitorStreamLine.escape(client))\t\(MonitorStreamLine.escape(target))\t\(SessionStoreCore.nowMs + UInt64(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000))\n"
        self.client.status.withLock { $0.written += 1 }
    }

    func flush() {
        guard let context, !out.isEmpty else { return }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: out)), promise: nil)
        out = ""
    }

    func get(vServer: String, client: String, promise: EventLoopPromise<String?>) {
        guard let context else { return promise.fail(SessionStoreError("not connected to the session store")) }
        nextID += 1
        let id = "g\(nextID)"
        gets[id] = promise
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(
            string: "GET\t\(id)\t\(MonitorStreamLine.escape(vServer))\t\(MonitorStreamLine.escape(client))\n")), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let (lines, tooLong) = buffer.lines(&bytes)
        guard !tooLong else { return context.close(promise: nil) }
        let tables = self.tables()
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            switch fields.first {
            case "C":
                guard let (key, pin) = parseChange(fields) else { return context.close(promise: nil) }
                apply(key, pin, tables: tables)
                if copying, copied.count < SessionStoreServer.maximumPins { copied.insert(key) }
            case "E":
                copying = false
                writeMissing(tables: tables)
                copied = []
                client.status.withLock { $0.connected = true }
                logger.notice("session store: following the master at \(client.address)")
            case "OK":
                client.status.withLock { $0.acknowledged += 1 }
            case "ERR":
                let why = fields.count > 2 ? String(fields[2].prefix(200)) : "?"
                client.status.withLock { $0.refused += 1; $0.lastRefusal = why }
                refusalsLogged += 1
                if refusalsLogged == 1 || refusalsLogged % 1000 == 0 {
                    logger.error("session store: a write was refused (\(why)); the local table keeps the pin (\(refusalsLogged) refused)")
                }
            case "VAL":
                guard fields.count == 4, let promise = gets.removeValue(forKey: String(fields[1])) else { continue }
                promise.succeed(fields[2] == "-" ? nil : MonitorStreamLine.unescape(fields[2]))
            default:
                return context.close(promise: nil)
            }
        }
    }

    private func apply(_ key: PinKey, _ pin: Pin, tables: [String: PersistenceTable]) {
        guard let table = tables[key.vServer] else { return }
        let now = SessionStoreCore.nowMs
        guard pin.expiresMs > now else { return }
        let until = MonotonicTime.now() + .milliseconds(Int64(pin.expiresMs - now))
        table.withLock { $0.pin(client: key.client, target: VServerID(pin.target), until: until) }
        client.status.withLock { $0.received += 1 }
    }

    /// After a copy: the pins this process holds that the store lacks (made while it was away).
    private func writeMissing(tables: [String: PersistenceTable]) {
        let now = MonotonicTime.now()
        for (vServer, table) in tables {
            for pin in table.withLock({ $0.pins }) where pin.expires > now && !copied.contains(PinKey(vServer: vServer, client: pin.client)) {
                write(vServer: vServer, client: pin.client, target: pin.target.name, expires: pin.expires)
            }
        }
        flush()
    }
}
