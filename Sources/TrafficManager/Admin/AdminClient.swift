import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client for the admin endpoint (what `cvmctl tms usage` uses).
public enum AdminClient {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreachable(HostPort, String)
        case status(Int, String)
        case invalid(String)

        public var description: String {
            switch self {
            case let .unreachable(address, reason):
                return "cannot reach the traffic manager's admin endpoint at \(address): \(reason) (is `cvmctl tms run` running? see --admin)"
            case .status(401, _):
                return "the admin endpoint refused the admin token (401); use the token file of the traffic manager at that address (--admin-token-file)"
            case let .status(code, body): return "the admin endpoint answered \(code): \(body)"
            case let .invalid(reason): return "unexpected answer from the admin endpoint: \(reason)"
            }
        }
    }

    /// Sends `method path` with `Authorization: Bearer <token>` (none when `token` is nil)
    /// and returns the response (any status).
    public static func request(_ method: HTTPMethod, _ path: String, to address: HostPort, token: String?,
                               timeout: Duration = .seconds(10)) async throws -> Response {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: Response.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(.nanoseconds(timeout.totalNanoseconds))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise))
                    }
                }
                .connect(to: address.socketAddress()).get()
        } catch {
            promise.fail(error)
            throw Failure.unreachable(address, "\(error)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: address.description)
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "0")
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timer = loop.scheduleTask(in: .nanoseconds(timeout.totalNanoseconds)) {
            promise.fail(Failure.unreachable(address, "no answer within \(DurationText.format(timeout))"))
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }

    /// `GET /usage`, decoded.
    public static func usage(from address: HostPort, token: String) async throws -> UsageReport {
        try decode(UsageReport.self, try await request(.GET, "/usage", to: address, token: token))
    }

    /// `GET /status`, decoded.
    public static func status(from address: HostPort, token: String) async throws -> StatusReport {
        try decode(StatusReport.self, try await request(.GET, "/status", to: address, token: token))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: Response) throws -> T {
        guard response.status == 200 else { throw Failure.status(response.status, response.text.trimmingCharacters()) }
        do {
            return try JSONDecoder().decode(type, from: Data(response.body))
        } catch {
            throw Failure.invalid("\(error)")
        }
    }
}

private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<AdminClient.Response>
    private var status = 0
    private var body: [UInt8] = []

    init(_ promise: EventLoopPromise<AdminClient.Response>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var buffer): body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end: promise.succeed(AdminClient.Response(status: status, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(AdminClient.Failure.invalid("connection closed before the response ended"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
