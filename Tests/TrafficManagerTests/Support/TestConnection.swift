import NIOCore
import NIOPosix
import Synchronization
import TrafficManager

/// A client connection for the tests: sends bytes, collects what comes back, and knows when
/// the other side ended its output (EOF) or the connection closed.
final class TestConnection: Sendable {
    let channel: any Channel
    let inbox: Inbox

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to `address`, optionally from `source` (another loopback address, to look
    /// like another client).
    static func connect(to address: HostPort, from source: String? = nil) async throws -> TestConnection {
        let inbox = Inbox()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(inbox)) }
            }
        if let source { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0)) }
        let channel = try await bootstrap.connect(to: address.socketAddress()).get()
        return TestConnection(channel: channel, inbox: inbox)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Shuts the output (half-close: the peer reads EOF).
    func finishSending() async throws {
        try await channel.close(mode: .output)
    }

    /// Waits until at least `count` bytes arrived (or the input ended); returns all received.
    func receive(atLeast count: Int, timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await inbox.wait(timeout: timeout) { bytes, ended in bytes.count >= count || ended }
    }

    /// Waits for the end of the input (EOF or close); returns everything received.
    func receiveUntilEnd(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await inbox.wait(timeout: timeout) { _, ended in ended }
    }

    var received: [UInt8] { inbox.state.withLock { $0.bytes } }
    var inputEnded: Bool { inbox.state.withLock { $0.ended } }

    func close() async {
        try? await channel.close()
    }

    /// Closes with SO_LINGER 0: the peer gets a reset, not a FIN.
    func reset() async {
        if let provider = channel as? any SocketOptionProvider {
            try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    /// Sends `payload`, half-closes, reads until the end: what an echo service sends back.
    static func echo(_ payload: [UInt8], via address: HostPort, from source: String? = nil) async throws -> [UInt8] {
        let connection = try await connect(to: address, from: source)
        defer { Task { await connection.close() } }
        try await connection.send(payload)
        try await connection.finishSending()
        return try await connection.receiveUntilEnd()
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Received bytes and waiters, shared between the channel's handler and the test.
final class Inbox: Sendable {
    struct State {
        var bytes: [UInt8] = []
        var ended = false
        var waiters: [(id: Int, ready: ([UInt8], Bool) -> Bool, continuation: CheckedContinuation<[UInt8], any Error>)] = []
        var nextID = 0
    }

    let state = Locked(State())

    func append(_ bytes: [UInt8]) { update { $0.bytes += bytes } }
    func end() { update { $0.ended = true } }

    private func update(_ change: (inout State) -> Void) {
        let ready = state.withLock { state -> [(CheckedContinuation<[UInt8], any Error>, [UInt8])] in
            change(&state)
            var done: [(CheckedContinuation<[UInt8], any Error>, [UInt8])] = []
            state.waiters.removeAll { waiter in
                guard waiter.ready(state.bytes, state.ended) else { return false }
                done.append((waiter.continuation, state.bytes))
                return true
            }
            return done
        }
        for (continuation, bytes) in ready { continuation.resume(returning: bytes) }
    }

    func wait(timeout: Duration, until ready: @escaping @Sendable ([UInt8], Bool) -> Bool) async throws -> [UInt8] {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            let waiter = state.withLock { state in
                let index = state.waiters.firstIndex { $0.id == id }
                return index.map { state.waiters.remove(at: $0) }
            }
            waiter?.continuation.resume(throwing: TimedOut(description: "timed out after \(timeout) (received \(state.withLock { $0.bytes.count }) bytes)"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let immediate = state.withLock { state -> [UInt8]? in
                if ready(state.bytes, state.ended) { return state.bytes }
                state.waiters.append((id, ready, continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox

    init(_ inbox: Inbox) {
        self.inbox = inbox
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        inbox.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { inbox.end() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
