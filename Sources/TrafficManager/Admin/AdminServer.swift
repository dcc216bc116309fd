import ConfigFile
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin endpoint (loopback HTTP/1.1, on the control loop): `/usage`, `/metrics`,
/// `/status`, `POST /reload`.
///
/// Loopback is not a boundary between the processes of one machine, so every request must
/// carry `Authorization: Bearer <token>` (the token of `admin.tokenFile`, mode 0600);
/// anything else is answered 401 before it is routed, reads included (usage drives elastic
/// mode, which must not act on figures from whoever answers on the port).
final class AdminServer: Sendable {
    let bound: HostPort
    private let channel: any Channel

    private init(bound: HostPort, channel: any Channel) {
        self.bound = bound
        self.channel = channel
    }

    static func start(address: HostPort, token: String, tokens: AdminTokenTable? = nil, manager: TrafficManager,
                      loop: any EventLoop) async throws -> AdminServer {
        let expected = Array("Bearer \(token)".utf8)
        let channel = try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(manager: manager, expectedAuthorization: expected, tokens: tokens))
                }
            }
            .bind(to: address.socketAddress()).get()
        return AdminServer(bound: HostPort(host: address.host, port: channel.localAddress?.port ?? address.port), channel: channel)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Serves one admin connection's requests, one at a time.
private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let manager: TrafficManager
    /// `Bearer <token>`, compared in constant time with the request's Authorization header.
    private let expectedAuthorization: [UInt8]
    private let tokens: AdminTokenTable?
    private var request: HTTPRequestHead?

    init(manager: TrafficManager, expectedAuthorization: [UInt8], tokens: AdminTokenTable?) {
        self.manager = manager
        self.expectedAuthorization = expectedAuthorization
        self.tokens = tokens
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let head = request else { return }
            request = nil
            let keepAlive = head.isKeepAlive
            let isHead = head.method == .HEAD
            guard let scope = scope(of: head) else {
                write(.unauthorized, keepAlive: keepAlive, bodyless: isHead, context: context)
                return
            }
            let route = AdminRoute(method: head.method.rawValue, uri: head.uri)
            if scope == .read, case .reload = route {
                write(.error(403, "this token may only read (scope read); reloading takes an admin token"), keepAlive: keepAlive, bodyless: isHead, context: context)
                return
            }
            let promise = context.eventLoop.makePromise(of: AdminResponse.self)
            let manager = self.manager
            promise.completeWithTask { await Self.respond(to: route, manager: manager) }
            promise.futureResult.assumeIsolated().whenSuccess { [self] response in
                write(response, keepAlive: keepAlive, bodyless: isHead, context: context)
            }
        }
    }

    /// Exactly one Authorization header: `Bearer <the admin token>` (scope admin), or
    /// `Bearer tms_…` with a token of the tokens file (its scope). Nil: refused.
    private func scope(of head: HTTPRequestHead) -> AdminTokens.Scope? {
        let values = head.headers["Authorization"]
        guard values.count == 1, let value = values.first else { return nil }
        if TokenFile.constantTimeEqual(Array(value.utf8), expectedAuthorization) { return .admin }
        guard let tokens, value.hasPrefix("Bearer ") else { return nil }
        return tokens.scope(of: String(value.dropFirst("Bearer ".count)))
    }

    private static func respond(to route: AdminRoute, manager: TrafficManager) async -> AdminResponse {
        switch route {
        case .usage:
            guard let report = manager.latestUsage else { return .error(503, "no usage sample yet") }
            return .json(200, encode(report))
        case .metrics:
            return AdminResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: await manager.metricsText())
        case .status:
            return .json(200, encode(await manager.status()))
        case .reload:
            do {
                return .json(200, encode(try await manager.reloadFromFile()))
            } catch {
                return .error(400, "\(error)")
            }
        case .notFound:
            return .error(404, "no such endpoint (try /usage, /metrics, /status, POST /reload)")
        case .methodNotAllowed(let allowed):
            return .error(405, "use \(allowed)")
        }
    }

    private static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)).map { $0 + "\n" } ?? "{}\n"
    }

    private func write(_ response: AdminResponse, keepAlive: Bool, bodyless: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
        if response.status == 401 { headers.add(name: "WWW-Authenticate", value: "Bearer realm=\"cvm-tms-admin\"") }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !bodyless {
            var buffer = context.channel.allocator.buffer(capacity: response.body.utf8.count)
            buffer.writeString(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
