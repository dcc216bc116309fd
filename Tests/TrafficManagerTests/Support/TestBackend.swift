import NIOCore
import NIOPosix
import Synchronization
import TrafficManager

/// A real backend on 127.0.0.1 for the tests: an echo server (which, on the client's FIN,
/// finishes echoing and closes), an HTTP server, or a sink that never reads. It counts the
/// connections it accepted, can be killed (listener and connections closed) and restarted
/// on the same port.
final class TestBackend: Sendable {
    enum Behavior: Sendable {
        case echo
        case http(status: Int, delay: Duration)
        case sink
    }

    let behavior: Behavior
    var port: Int { state.withLock { $0.port } }
    private let state = Locked(State())
    let accepted = Atomic<Int>(0)
    /// For `.http`: the response delay, changeable while running.
    let delayMilliseconds = Atomic<Int>(0)

    struct State {
        var port = 0
        var listener: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
    }

    private init(_ behavior: Behavior) {
        self.behavior = behavior
        if case .http(_, let delay) = behavior {
            delayMilliseconds.store(Int(delay.components.seconds) * 1000 + Int(delay.components.attoseconds / 1_000_000_000_000_000),
                                    ordering: .relaxed)
        }
    }

    static func start(_ behavior: Behavior) async throws -> TestBackend {
        let backend = TestBackend(behavior)
        try await backend.listen(port: 0)
        return backend
    }

    var address: HostPort { HostPort(host: "127.0.0.1", port: port) }
    var acceptedCount: Int { accepted.load(ordering: .relaxed) }

    private func listen(port: Int) async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.autoRead, value: { if case .sink = behavior { false } else { true } }())
            .childChannelInitializer { [self] channel in
                accepted.wrappingAdd(1, ordering: .relaxed)
                track(channel)
                return channel.eventLoop.makeCompletedFuture {
                    switch behavior {
                    case .echo:
                        try channel.pipeline.syncOperations.addHandler(EchoHandler())
                    case .http(let status, _):
                        try channel.pipeline.syncOperations.addHandler(HTTPResponder(status: status, backend: self))
                    case .sink:
                        break
                    }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        state.withLock { state in
            state.listener = channel
            state.port = channel.localAddress?.port ?? port
        }
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.connections[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }

    /// Kills the backend: stops listening and closes every connection (connects are refused).
    func kill() async {
        let (listener, connections) = state.withLock { state in
            defer { state.listener = nil }
            return (state.listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections { try? await connection.close() }
    }

    /// Listens again on the same port.
    func restart() async throws {
        try await listen(port: port)
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A minimal HTTP/1.1 server: answers each request (head ending in an empty line, no body)
/// with `status` and the body `ok`, after the backend's current delay; keeps the connection.
private final class HTTPResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let status: Int
    let backend: TestBackend
    private var pending: [UInt8] = []

    init(status: Int, backend: TestBackend) {
        self.status = status
        self.backend = backend
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while let range = pending.firstRange(of: end) {
            pending.removeSubrange(..<range.upperBound)
            let delay = backend.delayMilliseconds.load(ordering: .relaxed)
            let response = "HTTP/1.1 \(status) Status\r\nContent-Length: 2\r\n\r\nok"
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) {
                channel.writeAndFlush(channel.allocator.buffer(string: response), promise: nil)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
