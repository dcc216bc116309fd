import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// The log collector (task `log-collector`, in a CVM of image cvm-tms): takes the records
/// traffic managers ship (see ``CollectorProtocol``), keeps them in a ``SegmentStore`` on its
/// own disk, acknowledges them once they are there, answers queries, and sends every shipper a
/// summary each second. One event loop for the connections, one thread for the disk.
public final class LogCollector: Sendable {
    public let address: HostPort
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    private let channel: any Channel
    let store: StoreBox
    let logger: Logger

    /// The store, only touched on the disk thread.
    final class StoreBox: @unchecked Sendable {
        let store: SegmentStore
        init(_ store: SegmentStore) { self.store = store }
    }

    /// Summaries, on the collector's loop.
    final class Summary {
        var counts: [String: [AccessLogRecord.Outcome: Int]] = [:]
        /// Per client, records in the current and the previous 30 s window.
        var clients: [String: Int] = [:]
        var previousClients: [String: Int] = [:]
        var windowStart = NIODeadline.now()
        /// Whether the last write failed (logged once per failing stretch).
        var failing = false

        func add(_ records: [AccessLogRecord]) {
            rollWindow()
            for record in records {
                counts[record.vServer, default: [:]][record.outcome, default: 0] += 1
                if clients.count < 100_000 || clients[String(record.clientIP)] != nil { clients[String(record.clientIP), default: 0] += 1 }
            }
        }

        func rollWindow() {
            guard NIODeadline.now() - windowStart > .seconds(30) else { return }
            previousClients = clients
            clients = [:]
            windowStart = .now()
        }

        var lines: String {
            rollWindow()
            var text = ""
            for (vServer, outcomes) in counts.sorted(by: { $0.key < $1.key }).prefix(1000) {
                let pairs = outcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value)" }
                text += "S\t\(MonitorStreamLine.escape(vServer))\t\(pairs.joined(separator: ","))\n"
            }
            var merged = previousClients
            for (client, count) in clients { merged[client, default: 0] += count }
            for (client, count) in merged.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }).prefix(10) {
                text += "T\t\(MonitorStreamLine.escape(client))\t\(count)\n"
            }
            return text + "E\n"
        }
    }

    private init(address: HostPort, group: MultiThreadedEventLoopGroup, pool: NIOThreadPool, channel: any Channel, store: StoreBox, logger: Logger) {
        self.address = address
        self.group = group
        self.pool = pool
        self.channel = channel
        self.store = store
        self.logger = logger
    }

    /// Opens the store (formatting a new disk) and listens. Throws, leaving nothing running,
    /// when the disk cannot be used or the address bound.
    public static func start(_ config: AccessLogConfig.Collector, logger: Logger) async throws -> LogCollector {
        let context = try config.tls?.serverContext()
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let opened = try await pool.runIfActive {
                StoreBox(try SegmentStore(.init(path: config.device, offset: config.offset, maxBytes: config.maxBytes, maxAge: config.maxAge)))
            }
            let loop = group.next()
            let summary = NIOLoopBoundBox.makeBoxSendingValue(Summary(), eventLoop: loop)
            let channel = try await ServerBootstrap(group: loop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                        try channel.pipeline.syncOperations.addHandler(
                            CollectorHandler(store: opened, pool: pool, summary: summary.value, logger: logger))
                    }
                }
                .bind(to: try config.listen.socketAddress()).get()
            let bound = HostPort(host: config.listen.host, port: channel.localAddress?.port ?? config.listen.port)
            let store = opened.store
            logger.notice("log collector \(store.collectorID) listening on \(bound): \(store.segmentCount) segments, \(store.recordCount) records, \(store.capacityBytes / 1024) KiB on \(config.device)")
            return LogCollector(address: bound, group: group, pool: pool, channel: channel, store: opened, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
        try? await pool.shutdownGracefully()
    }
}

private final class CollectorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let store: LogCollector.StoreBox
    let pool: NIOThreadPool
    let summary: LogCollector.Summary
    let logger: Logger
    private var lines = LineBuffer(limit: CollectorProtocol.maximumLength)
    private var source: String?
    private var batch: [SegmentStore.Entry] = []
    private var writing = false
    private var timer: RepeatedTask?
    private var reading = true
    private var closed = false

    init(store: LogCollector.StoreBox, pool: NIOThreadPool, summary: LogCollector.Summary, logger: Logger) {
        self.store = store
        self.pool = pool
        self.summary = summary
        self.logger = logger
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        timer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let (received, tooLong) = lines.lines(&buffer)
        for line in received {
            guard handle(line, context: context) else {
                context.close(promise: nil)
                return
            }
        }
        if tooLong { context.close(promise: nil) }
        // Back-pressure: a shipper ahead of the disk is not read until the batch is written.
        if batch.count >= 5000, reading {
            reading = false
            context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        }
        if batch.count >= 2000 { flush(context: context) }
    }

    private func handle(_ line: Substring, context: ChannelHandlerContext) -> Bool {
        if let source {
            // R <seq> <record>
            guard line.hasPrefix("R\t"), let tab = line.dropFirst(2).firstIndex(of: "\t"),
                  let seq = UInt64(line[line.index(line.startIndex, offsetBy: 2)..<tab]) else { return false }
            // Parsed to check it and to index it; stored as received.
            let text = line[line.index(after: tab)...]
            guard let record = AccessLogRecord(line: text) else { return false }
            batch.append(SegmentStore.Entry(source: source, seq: seq, record: record, line: text))
            return true
        }
        if line.hasPrefix("HELLO\t") {
            let name = line.dropFirst(6)
            guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return false }
            source = String(name)
            startShipping(context: context)
            return true
        }
        if line.hasPrefix("QUERY") {
            answer(line, context: context)
            return true
        }
        return false
    }

    private func startShipping(context: ChannelHandlerContext) {
        let source = self.source!
        let store = self.store
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pool.runIfActive(eventLoop: context.eventLoop) {
            (store.store.collectorID, store.store.lastSeq[source] ?? 0)
        }.assumeIsolated().whenSuccess { id, last in
            let (handler, context) = bound.value
            handler.send("H\t\(id)\t\(last)\n", context: context)
        }
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { _ in
            let (handler, context) = bound.value
            handler.flush(context: context)
            handler.ticks += 1
            if handler.ticks % 20 == 0 { handler.send(handler.summary.lines, context: context) }
        }
    }

    private var ticks = 0

    private func send(_ text: String, context: ChannelHandlerContext) {
        guard !closed else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    /// Writes the batch to the disk (one write at a time per connection), then acknowledges.
    private func flush(context: ChannelHandlerContext) {
        guard !writing, !batch.isEmpty, let source else { return }
        writing = true
        let entries = batch
        batch = []
        let store = self.store
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pool.runIfActive(eventLoop: context.eventLoop) { () throws -> UInt64 in
            try store.store.append(entries, nowMs: now)[source] ?? 0
        }.assumeIsolated().whenComplete { result in
            let (handler, context) = bound.value
            handler.writing = false
            switch result {
            case .success(let last):
                if handler.summary.failing {
                    handler.summary.failing = false
                    handler.logger.notice("log store: writing again")
                }
                handler.summary.add(entries.map(\.record))
                handler.send("A\t\(last)\n", context: context)
            case .failure(let error):
                if !handler.summary.failing {
                    handler.summary.failing = true
                    handler.logger.error("log store: \(error); records are refused (they stay in the shippers' spools)")
                }
                handler.send("F\t\(MonitorStreamLine.escape("\(error)").prefix(1000))\n", context: context)
            }
            if !handler.reading, !handler.closed {
                handler.reading = true
                context.channel.setOption(.autoRead, value: true).whenComplete { _ in }
            }
        }
    }

    private func answer(_ line: Substring, context: ChannelHandlerContext) {
        let query: AccessLogQuery
        do {
            query = try AccessLogQuery(line: line)
        } catch {
            send("ERR\t\(MonitorStreamLine.escape(error.description))\n", context: context)
            context.close(promise: nil)
            return
        }
        let store = self.store
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pool.runIfActive(eventLoop: context.eventLoop) { () throws -> String in
            let result = try store.store.query(query)
            var text = ""
            for entry in result.entries { text += "Q\t\(MonitorStreamLine.escape(entry.source))\t\(entry.seq)\t\(entry.record.line)\n" }
            return text + "END\t\(result.matched)\t\(result.segmentsRead)\n"
        }.assumeIsolated().whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .success(let text): handler.send(text, context: context)
            case .failure(let error): handler.send("ERR\t\(MonitorStreamLine.escape("\(error)"))\n", context: context)
            }
            context.close(promise: nil)
        }
    }
}
