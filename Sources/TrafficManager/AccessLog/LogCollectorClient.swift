import NIOCore
import NIOPosix
import NIOSSL

/// Asks a log collector (see ``CollectorProtocol``): what `cvmctl logs query` runs.
public enum LogCollectorClient {
    public struct Answer: Sendable {
        public var entries: [SegmentStore.Entry]
        public var matched: Int
        public var segmentsRead: Int
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Sends `query` and reads the answer (at most `timeout` in all).
    public static func query(_ query: AccessLogQuery, at address: HostPort, tls: TLSConfig?,
                             timeout: TimeAmount = .seconds(30)) async throws -> Answer {
        let context = try tls?.clientContext()
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Answer.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context {
                            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                        }
                        try channel.pipeline.syncOperations.addHandler(AnswerHandler(promise: promise))
                    }
                }
                .connect(to: try address.socketAddress()).get()
        } catch {
            promise.fail(error)
            throw Failure(description: "cannot reach the log collector at \(address): \(error)")
        }
        channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(Failure(description: "the log collector at \(address) did not answer within \(timeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        try await channel.writeAndFlush(ByteBuffer(string: query.line + "\n"))
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    private final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Answer>
        private var lines = LineBuffer(limit: CollectorProtocol.maximumLength)
        private var answer = Answer(entries: [], matched: 0, segmentsRead: 0)
        private var done = false

        init(promise: EventLoopPromise<Answer>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let (received, tooLong) = lines.lines(&buffer)
            for line in received where !done { handle(line) }
            if tooLong { finish(.failure(Failure(description: "the log collector sent a line too long"))) }
        }

        private func handle(_ line: Substring) {
            let fields = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false)
            switch fields.first {
            case "Q":
                guard fields.count == 4, let seq = UInt64(fields[2]), let source = MonitorStreamLine.unescape(fields[1]),
                      let record = AccessLogRecord(line: fields[3]), answer.entries.count < AccessLogQuery.maximumLimit else {
                    return finish(.failure(Failure(description: "the log collector sent a malformed record")))
                }
                answer.entries.append(SegmentStore.Entry(source: source, seq: seq, record: record))
            case "END":
                let parts = line.split(separator: "\t")
                guard parts.count == 3, let matched = Int(parts[1]), let read = Int(parts[2]) else {
                    return finish(.failure(Failure(description: "the log collector sent a malformed end")))
                }
                answer.matched = matched
                answer.segmentsRead = read
                finish(.success(answer))
            case "ERR":
                finish(.failure(Failure(description: "the log collector refused the query: " + (MonitorStreamLine.unescape(line.dropFirst(4)) ?? "?"))))
            default:
                finish(.failure(Failure(description: "the log collector sent something unexpected")))
            }
        }

        private func finish(_ result: Result<Answer, any Error>) {
            guard !done else { return }
            done = true
            promise.completeWith(result)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(.failure(Failure(description: "the log collector closed the connection before the end of its answer")))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }
}
