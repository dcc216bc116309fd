import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import TrafficManager

/// `routing: request` against services that answer with exactly the bytes a test gives them:
/// how the traffic manager passes responses on (chunked to HTTP/1.0 clients, interim 1xx,
/// HEAD, bad responses), and what it does with chunked request bodies, unknown methods and
/// pipelined requests sent with the client's FIN.
extension ProxyTests {
    @Suite struct HTTPFraming {
        /// Sends `request` on a new connection with a FIN after it; everything that came back.
        static func exchange(_ address: HostPort, _ request: String) async throws -> String {
            let client = try await TestConnection.connect(to: address)
            try await client.send(Array(request.utf8))
            try await client.finishSending()
            let text = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
            await client.close()
            return text
        }

        @Test("responses are passed on as the client's version needs; interim 1xx pass; a bad response is a 502")
        func responsesPassedOn() async throws {
            let service = try await RawHTTPService.start([
                "/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                "/continue": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                "/head": "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                "/switch": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
                "/twice": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            ])
            try await withTrafficManager(PerRequest.yaml(services: [("raw", service.port)])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                // Chunked to an HTTP/1.1 client: as it came.
                let chunked11 = try await Self.exchange(address, "GET /chunked HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(chunked11.hasPrefix("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"), "\(chunked11)")
                #expect(chunked11.hasSuffix("\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), "\(chunked11)")
                // To an HTTP/1.0 client: the data, ended by the close.
                let chunked10 = try await Self.exchange(address, "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(chunked10 == "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nhello world", "\(chunked10)")
                // An interim response, then the final one.
                let continued = try await Self.exchange(address, "GET /continue HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(continued.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") && continued.hasSuffix("\r\n\r\nok"), "\(continued)")
                // HEAD: a length and no body; the next request on the connection is answered.
                let head = try await Self.exchange(address, "HEAD /head HTTP/1.1\r\nHost: w\r\n\r\nGET /continue HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 100 Continue\r\n"), "\(head)")
                // A switch nobody asked for, and a response with two lengths: 502.
                for path in ["/switch", "/twice"] {
                    let bad = try await Self.exchange(address, "GET \(path) HTTP/1.1\r\nHost: w\r\n\r\n")
                    #expect(bad.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(path): \(bad)")
                }
            }
        }

        @Test("a chunked request body reaches the service chunk for chunk; an unknown method gets 501 and reaches no service")
        func requestBodiesAndMethods() async throws {
            let a = try await RecordingHTTPService.start("a")
            try await withTrafficManager(PerRequest.yaml([a])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let chunked = try await Self.exchange(address, "POST /up HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n"
                                                      + "5;x=y\r\nhello\r\n3\r\n, w\r\n0\r\nT: 1\r\n\r\n")
                #expect(chunked.contains("a path=/up ") && chunked.contains("received=8 "), "\(chunked)")
                let unknown = try await Self.exchange(address, "BREW /pot HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(unknown.hasPrefix("HTTP/1.1 501 Not Implemented\r\n"), "\(unknown)")
                #expect(a.requests == 1 && a.malformed == 0 && a.unproxied == 0)
            }
        }

        @Test("pipelined requests sent with the client's FIN are all answered, in order, then the connection closes")
        func pipelinedThenFIN() async throws {
            let a = try await RecordingHTTPService.start("a", delayFirstMilliseconds: 50)
            try await withTrafficManager(PerRequest.yaml([a])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let text = try await Self.exchange(address, "GET /1 HTTP/1.1\r\nHost: w\r\n\r\nGET /2 HTTP/1.1\r\nHost: w\r\n\r\n"
                                                   + "GET /3 HTTP/1.1\r\nHost: w\r\n\r\n")
                let paths = text.split(separator: "path=").dropFirst().map { $0.prefix(2) }
                #expect(paths == ["/1", "/2", "/3"], "\(text)")
            }
        }
    }
}

/// An HTTP service that reads request heads (no bodies) and answers each with the raw bytes
/// its path maps to (an empty response and a close for any other path).
final class RawHTTPService: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start(_ answers: [String: String]) async throws -> RawHTTPService {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Answerer(answers)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RawHTTPService(port: channel.localAddress?.port ?? 0, channel: channel)
    }

    private final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answers: [String: String]
        private var buffered = ""

        init(_ answers: [String: String]) { self.answers = answers }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            buffered += String(buffer: unwrapInboundIn(data))
            while let end = buffered.range(of: "\r\n\r\n") {
                let head = buffered[..<end.lowerBound]
                buffered = String(buffered[end.upperBound...])
                let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? ""
                guard let answer = answers[path] else {
                    context.close(promise: nil)
                    return
                }
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
            }
        }
    }
}
