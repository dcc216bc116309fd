import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import TrafficManager

/// `routing: request` and protocol switches (WebSocket's handshake, RFC 9110 §7.8): the request's
/// `Upgrade` reaches the service, a `101` turns the client's connection into a tunnel to that
/// service (both ways, back-pressured, to either side's end), the request holds its use of the
/// quota until then, and a switch the service declines leaves an ordinary keep-alive connection.
extension ProxyTests {
    @Suite struct Upgrade {
        static let request = "GET /chat HTTP/1.1\r\nHost: w\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"

        @Test("a 101 makes a tunnel: early bytes and 4 MiB go through intact, the quota is held until it ends")
        func switchedConnectionIsATunnel() async throws {
            let service = try await UpgradeService.start()
            try await withTrafficManager(PerRequest.yaml(services: [("echo", service.port)], quotaCounts: "requests")) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let quota = try #require(manager.vServer("web")?.quota)
                let client = try await TestConnection.connect(to: address)
                // The handshake and the first bytes of the new protocol in one write.
                try await client.send(Array((Self.request + "early").utf8))
                let switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
                let head = try await client.receive(atLeast: switched.utf8.count + 5)
                #expect(String(decoding: head, as: UTF8.self) == switched + "early")
                #expect(service.heads.count == 1)
                let seen = service.heads.first?.lowercased() ?? ""
                #expect(seen.contains("\r\nconnection: upgrade\r\n") && seen.contains("\r\nupgrade: echo\r\n")
                        && seen.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"), "\(seen)")
                // The tunnel holds the request's use of the quota.
                #expect(quota.totalInUse == 1)
                // 4 MiB through the echo: larger than every buffer on the way, so both directions
                // stall and resume.
                let data = payload(seed: 7, count: 4 << 20)
                try await client.send(data)
                let all = try await client.receive(atLeast: head.count + data.count, timeout: .seconds(60))
                #expect(all.count == head.count + data.count)
                #expect(checksum(Array(all.dropFirst(head.count))) == checksum(data))
                // The client's FIN: the service's side closes after what was sent, then the client's.
                try await client.finishSending()
                _ = try await client.receiveUntilEnd(timeout: .seconds(30))
                #expect(await eventually(timeout: .seconds(10)) { quota.totalInUse == 0 })
                await client.close()
            }
        }

        @Test("the service ending a tunnel ends the client's connection after what it sent")
        func serviceEndsTheTunnel() async throws {
            let service = try await UpgradeService.start()
            try await withTrafficManager(PerRequest.yaml(services: [("echo", service.port)])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let client = try await TestConnection.connect(to: address)
                try await client.send(Array(Self.request.utf8))
                _ = try await client.receive(atLeast: 20)
                try await client.send(Array("bye\n".utf8))
                let text = String(decoding: try await client.receiveUntilEnd(timeout: .seconds(30)), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 101 ") && text.hasSuffix("\r\n\r\nbye\ngoodbye\n"), "\(text)")
                await client.close()
            }
        }

        @Test("a tunnel's idle time is tunnelTimeout, not idleTimeout: quiet past idleTimeout it still carries bytes, then it is closed")
        func tunnelTimeoutIsItsOwn() async throws {
            let service = try await UpgradeService.start()
            let yaml = PerRequest.yaml(services: [("echo", service.port)], extra: "    idleTimeout: 300ms\n    tunnelTimeout: 2s")
            try await withTrafficManager(yaml) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                // A plain keep-alive connection is closed after idleTimeout.
                let plain = try await TestConnection.connect(to: address)
                try await plain.send(Array("GET /plain HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                let plainText = String(decoding: try await plain.receiveUntilEnd(timeout: .seconds(5)), as: UTF8.self)
                #expect(plainText.hasPrefix("HTTP/1.1 200 ") && plainText.hasSuffix("plain"), "\(plainText)")
                // A tunnel quiet for three idleTimeouts still echoes.
                let client = try await TestConnection.connect(to: address)
                try await client.send(Array(Self.request.utf8))
                let switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n"
                _ = try await client.receive(atLeast: switched.utf8.count)
                try await Task.sleep(for: .milliseconds(900))
                try await client.send(Array("ping".utf8))
                let echoed = try await client.receive(atLeast: switched.utf8.count + 4)
                #expect(String(decoding: echoed, as: UTF8.self) == switched + "ping")
                // Then quiet for tunnelTimeout: closed, and its use of the quota given back.
                let quiet = ContinuousClock.now
                let rest = try await client.receiveUntilEnd(timeout: .seconds(10))
                let waited = ContinuousClock.now - quiet
                #expect(rest.count == switched.utf8.count + 4 && client.inputEnded)
                #expect(waited >= .milliseconds(1_900) && waited < .seconds(6), "closed after \(waited)")
                await client.close()
                await plain.close()
            }
        }

        @Test("a switch the service declines is an ordinary response; the connection carries the next request")
        func declinedSwitch() async throws {
            let service = try await UpgradeService.start(declines: true)
            try await withTrafficManager(PerRequest.yaml(services: [("echo", service.port)])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let client = try await HTTPClient(address)
                let declined = try await PerRequest.exchange(client, Self.request)
                #expect(declined.status == 426 && declined.body == "no")
                #expect(!declined.headers.contains { $0.0 == "upgrade" || ($0.0 == "connection" && $0.1.lowercased().contains("upgrade")) })
                let next = try await PerRequest.exchange(client, "GET /plain HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(next.status == 200 && next.body == "plain")
                // The plain request went without Upgrade, on the same service connection.
                #expect(service.heads.count == 2 && !(service.heads.last?.lowercased().contains("upgrade") ?? true))
                #expect(service.accepted == 1)
                await client.connection.close()
            }
        }

        @Test("an HTTP/1.0 request's Upgrade is dropped: no switch")
        func http10NeverSwitches() async throws {
            let service = try await UpgradeService.start()
            try await withTrafficManager(PerRequest.yaml(services: [("echo", service.port)])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let text = try await HTTPFraming.exchange(address, "GET /chat HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
                #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n") && text.hasSuffix("plain"), "\(text)")
                #expect(!(service.heads.first?.lowercased().contains("upgrade") ?? true))
            }
        }
    }
}

/// A service on 127.0.0.1 that switches to an echo protocol: to a request with `Upgrade: echo`
/// it answers `101` (unless `declines`: then `426` with the body `no`) and from then on echoes
/// every byte; a line `bye` gets `goodbye` and the connection's end; on the client's FIN it
/// closes. Other requests get `200` with the body `plain`. It records each request head.
final class UpgradeService: Sendable {
    let port: Int
    private let box: SharedState
    private let channel: any Channel

    var heads: [String] { box.state.withLock { $0.heads } }
    var accepted: Int { box.state.withLock { $0.accepted } }

    private init(port: Int, box: SharedState, channel: any Channel) {
        self.port = port
        self.box = box
        self.channel = channel
    }

    static func start(declines: Bool = false) async throws -> UpgradeService {
        let box = SharedState()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    box.state.withLock { $0.accepted += 1 }
                    try channel.pipeline.syncOperations.addHandler(Handler(declines: declines, box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return UpgradeService(port: channel.localAddress?.port ?? 0, box: box, channel: channel)
    }

    private final class SharedState: Sendable {
        let state = Mutex<(heads: [String], accepted: Int)>((heads: [], accepted: 0))
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let declines: Bool
        let box: SharedState
        private var buffered: [UInt8] = []
        private var echoing = false

        init(declines: Bool, box: SharedState) {
            self.declines = declines
            self.box = box
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            if echoing { return echo(bytes, context: context) }
            buffered += bytes
            while !echoing, let end = buffered.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: buffered[..<end.upperBound], as: UTF8.self)
                buffered.removeFirst(end.upperBound)
                box.state.withLock { $0.heads.append(head) }
                if head.lowercased().contains("\r\nupgrade: echo\r\n") {
                    if declines {
                        write("HTTP/1.1 426 Upgrade Required\r\nUpgrade: echo\r\nContent-Length: 2\r\n\r\nno", context: context)
                    } else {
                        write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n", context: context)
                        echoing = true
                        let rest = buffered
                        buffered = []
                        if !rest.isEmpty { echo(rest, context: context) }
                    }
                } else {
                    write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain", context: context)
                }
            }
        }

        private func echo(_ bytes: [UInt8], context: ChannelHandlerContext) {
            if bytes == Array("bye\n".utf8) {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes + Array("goodbye\n".utf8))))
                    .whenComplete { _ in channel.close(promise: nil) }
                return
            }
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        }

        private func write(_ text: String, context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if event as? ChannelEvent == .inputClosed {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in channel.close(promise: nil) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
