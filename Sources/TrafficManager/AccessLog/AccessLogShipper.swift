import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TMSCore

/// The stream between a traffic manager and its log collector, one line per message, fields
/// separated by tabs, at most ``maximumLength`` bytes a line:
///
///     shipper → collector   HELLO <source>            who is shipping (the spool's id)
///                           R <seq> <record>          one record (see AccessLogRecord)
///     collector → shipper   H <collector> <lastSeq>   the collector's id, and the last
///                                                      sequence number it holds of this source
///                           A <seq>                   every record up to seq is on its disk
///                           F <reason>                its disk is full: nothing more is taken
///                           S <vServer> <o>=<n>,...   summary: records per outcome
///                           T <client> <n>            summary: a top client (last minute)
///                           E                         end of a summary
///     query                 QUERY ...                 see AccessLogQuery
///                           Q <source> <seq> <record> one match ... then END <matched> <read>
///                           ERR <message>             a bad query
public enum CollectorProtocol {
    public static let maximumLength = 2048
    /// Records sent beyond the last acknowledgement.
    static let window: UInt64 = 20_000
}

/// What the collector reported last: per vServer, records per outcome; and the top clients of
/// the last minute.
public struct CollectorSummary: Sendable, Hashable {
    public var vServers: [String: [AccessLogRecord.Outcome: Int]] = [:]
    public var topClients: [(client: String, count: Int)] = []

    public static func == (a: Self, b: Self) -> Bool {
        a.vServers == b.vServers && a.topClients.map(\.client) == b.topClients.map(\.client) && a.topClients.map(\.count) == b.topClients.map(\.count)
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(vServers) }
}

/// The shipping end: connects to the collector (again every second while it cannot), says
/// which source it is, and streams the spool from the collector's last sequence number on,
/// at most ``CollectorProtocol/window`` records ahead of its acknowledgements. Runs on the
/// control loop; never on a core's.
final class AccessLogShipper: Sendable {
    let address: HostPort
    private let loop: any EventLoop
    private let box: NIOLoopBoundBox<State>
    let status = Locked(Status())

    struct State {
        var stopped = false
        var channel: (any Channel)?
        var handler: ShipperHandler?
    }

    struct Status: Sendable {
        var connected = false
        var collectorID: String?
        var full: String?
        var summary = CollectorSummary()
        var lastError: String?
    }

    private init(address: HostPort, loop: any EventLoop) {
        self.address = address
        self.loop = loop
        box = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    static func start(address: HostPort, tls: TLSConfig?, spool: AccessLogSpool, loop: any EventLoop, logger: Logger) async throws -> AccessLogShipper {
        let context = try tls?.clientContext()
        let shipper = AccessLogShipper(address: address, loop: loop)
        try await loop.submit { shipper.connect(context: context, spool: spool, logger: logger) }.get()
        return shipper
    }

    /// New records are in the spool (from the writer thread).
    func wake() {
        loop.execute { [box] in box.value.handler?.pump() }
    }

    private func connect(context: NIOSSLContext?, spool: AccessLogSpool, logger: Logger) {
        guard !box.value.stopped else { return }
        let handler = ShipperHandler(spool: spool, shipper: self, logger: logger)
        let bound = NIOLoopBound(handler, eventLoop: loop)
        let target: SocketAddress
        do { target = try address.socketAddress() } catch { return }
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
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
                        if was { logger.notice("access log: the collector at \(self.address) went away; spooling", metadata: ["cvm.reason": "\(handler.endReason)"]) }
                        self.loop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.connect(context: context, spool: spool, logger: logger) }
                    }
                case .failure(let error):
                    self.status.withLock { $0.lastError = "\(error)" }
                    self.loop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.connect(context: context, spool: spool, logger: logger) }
                }
            }
    }

    func stop() async {
        try? await loop.submit { [box] in
            box.value.stopped = true
            box.value.channel?.close(promise: nil)
        }.get()
    }
}

final class ShipperHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let spool: AccessLogSpool
    unowned let shipper: AccessLogShipper
    let logger: Logger
    private var context: ChannelHandlerContext?
    private var lines = LineBuffer(limit: CollectorProtocol.maximumLength)
    /// The next sequence number to send, once the collector said where it stands.
    private var cursor: UInt64?
    private var acknowledged: UInt64 = 0
    private var paused = false
    private var summary = CollectorSummary()
    private(set) var endReason = "the stream ended"

    init(spool: AccessLogSpool, shipper: AccessLogShipper, logger: Logger) {
        self.spool = spool
        self.shipper = shipper
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeString("HELLO\t\(spool.source)\n")
        context.writeAndFlush(NIOAny(buffer), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        endReason = "\(error)"
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pump()
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let (received, tooLong) = lines.lines(&buffer)
        for line in received {
            guard handle(line, context: context) else {
                endReason = "a malformed line from the collector"
                context.close(promise: nil)
                return
            }
        }
        if tooLong {
            endReason = "a line longer than \(CollectorProtocol.maximumLength) bytes"
            context.close(promise: nil)
        }
    }

    private func handle(_ line: Substring, context: ChannelHandlerContext) -> Bool {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        switch fields.first {
        case "H":
            guard fields.count == 3, cursor == nil, fields[1].utf8.count <= 64, let last = UInt64(fields[2]) else { return false }
            let oldest = spool.oldestRetained, next = spool.nextSeq
            if last + 1 < oldest {
                logger.error("access log: records \(last + 1)-\(oldest - 1) are on no collector any more (the collector \(fields[1]) has up to \(last); the spool's history starts at \(oldest))")
            }
            spool.acknowledge(last)
            acknowledged = min(last, next - 1)
            cursor = max(min(last + 1, next), oldest)
            shipper.status.withLock { status in
                status.connected = true
                status.collectorID = String(fields[1])
                status.full = nil
            }
            logger.notice("access log: shipping to the collector \(fields[1]) at \(shipper.address) from record \(cursor!)")
            pump()
        case "A":
            guard fields.count == 2, let seq = UInt64(fields[1]) else { return false }
            spool.acknowledge(seq)
            acknowledged = max(acknowledged, seq)
            let wasFull = shipper.status.withLock { status -> Bool in
                defer { status.full = nil }
                return status.full != nil
            }
            if wasFull { logger.notice("access log: the collector takes records again") }
            pump()
        case "F":
            guard fields.count == 2 else { return false }
            let reason = String(fields[1].prefix(300))
            let first = shipper.status.withLock { status -> Bool in
                defer { status.full = reason }
                return status.full == nil
            }
            if first { logger.error("access log: the collector refuses records: \(reason); they stay in the spool") }
            // Sent again from the last acknowledgement in a second.
            paused = true
            cursor = acknowledged + 1
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { [self] in
                paused = false
                pump()
            }
        case "S":
            guard fields.count == 3, summary.vServers.count < 1000, let vServer = MonitorStreamLine.unescape(fields[1]) else { return false }
            var counts: [AccessLogRecord.Outcome: Int] = [:]
            for pair in fields[2].split(separator: ",") {
                let parts = pair.split(separator: "=")
                guard parts.count == 2, let outcome = AccessLogRecord.Outcome(rawValue: String(parts[0])),
                      parts[1].utf8.count <= 15, let count = Int(parts[1]), count >= 0 else { return false }
                counts[outcome] = count
            }
            summary.vServers[vServer] = counts
        case "T":
            guard fields.count == 3, summary.topClients.count < 100, let client = MonitorStreamLine.unescape(fields[1]),
                  fields[2].utf8.count <= 15, let count = Int(fields[2]), count >= 0 else { return false }
            summary.topClients.append((client, count))
        case "E":
            guard fields.count == 1 else { return false }
            let complete = summary
            shipper.status.withLock { $0.summary = complete }
            summary = CollectorSummary()
        default:
            return false
        }
        return true
    }

    /// Sends what the window allows.
    func pump() {
        guard let context, let start = cursor, !paused else { return }
        var next = start
        var buffer = context.channel.allocator.buffer(capacity: 0)
        while context.channel.isWritable, next < acknowledged + 1 + CollectorProtocol.window {
            let batch = spool.records(from: next, limit: 1000)
            guard let last = batch.last else { break }
            buffer.clear()
            for (seq, line) in batch where seq < acknowledged + 1 + CollectorProtocol.window {
                buffer.writeString("R\t\(seq)\t\(line)\n")
                next = seq + 1
            }
            context.write(NIOAny(buffer), promise: nil)
            if last.seq + 1 > next { break }
            next = last.seq + 1
        }
        if next != start { context.flush() }
        cursor = next
    }
}
