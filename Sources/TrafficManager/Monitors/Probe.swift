#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// One health probe of one service: a TCP connect, or an HTTP `GET` whose status line is read.
/// Non-blocking (NIO); completes on `loop` within `timeout` (a timeout is a failure). A
/// service reached over TLS (`tls`: its `tls` key, or a return relay) is probed over TLS: the
/// TCP probe succeeds once the mutual handshake completed, the HTTP one sends its request in it.
enum Probe {
    /// What the probe moved, for the monitor's usage counters.
    struct Traffic {
        var bytesSent = 0
        var bytesReceived = 0
    }

    static func run(_ kind: MonitorConfig.Kind, address: SocketAddress, host: HostPort, timeout: Duration,
                    tls: NIOSSLContext? = nil, on loop: any EventLoop) -> EventLoopFuture<(ProbeOutcome, Traffic)> {
        let started = MonotonicTime.nanos()
        let elapsed = { Double(MonotonicTime.nanos() &- started) / 1e9 }
        let promise = loop.makePromise(of: (ProbeOutcome, Traffic).self)
        let deadline = TimeAmount.nanoseconds(timeout.totalNanoseconds)
        switch kind {
        case .tcp where tls != nil:
            converse(address, tls: tls, deadline: deadline, on: loop, reader: { HandshakeWaiter($0) }).assumeIsolated().whenComplete { result in
                switch result {
                case .success: promise.succeed((.answered(seconds: elapsed(), status: nil), Traffic()))
                case .failure(let error): promise.succeed((.failed(describe(error)), Traffic()))
                }
            }
        case .tcp:
            ClientBootstrap(group: loop).connectTimeout(deadline).connect(to: address).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    channel.close(promise: nil)
                    promise.succeed((.answered(seconds: elapsed(), status: nil), Traffic()))
                case .failure(let error):
                    promise.succeed((.failed(describe(error)), Traffic()))
                }
            }
        case .http(let path, _):
            let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: cvm-tms-monitor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
            // Written before a TLS handshake completes, the request waits in it.
            converse(address, tls: tls, deadline: deadline, on: loop, reader: { StatusLineReader($0) }) { channel in
                var buffer = channel.allocator.buffer(capacity: request.utf8.count)
                buffer.writeString(request)
                channel.writeAndFlush(buffer, promise: nil)
            }.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let (code, received)):
                    promise.succeed((.answered(seconds: elapsed(), status: code),
                                     Traffic(bytesSent: request.utf8.count, bytesReceived: received)))
                case .failure(let error):
                    promise.succeed((.failed(describe(error)), Traffic(bytesSent: 0, bytesReceived: 0)))
                }
            }
        }
        return promise.futureResult
    }

    /// Connects to `address` (through TLS with `tls`), puts the handler `reader` makes in the
    /// pipeline, calls `connected`, and closes the channel once the reader's promise is
    /// fulfilled; fails at `deadline` (connect included).
    private static func converse<T: Sendable>(_ address: SocketAddress, tls: NIOSSLContext?, deadline: TimeAmount, on loop: any EventLoop,
                                              reader: @escaping @Sendable (EventLoopPromise<T>) -> any ChannelHandler,
                                              connected: @escaping @Sendable (any Channel) -> Void = { _ in }) -> EventLoopFuture<T> {
        let answer = loop.makePromise(of: T.self)
        let timer = loop.scheduleTask(in: deadline) { answer.fail(ProbeError.timedOut) }
        ClientBootstrap(group: loop)
            .connectTimeout(deadline)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil)) }
                    try channel.pipeline.syncOperations.addHandler(reader(answer))
                }
            }
            .connect(to: address).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let channel):
                    connected(channel)
                    answer.futureResult.assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
                case .failure(let error):
                    answer.fail(error)
                }
            }
        answer.futureResult.assumeIsolated().whenComplete { _ in timer.cancel() }
        return answer.futureResult
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case ProbeError.timedOut: return "timed out"
        case let error as ChannelError where "\(error)".contains("connectTimeout"): return "timed out: \(error)"
        case let error as NIOConnectionError:
            return error.connectionErrors.first.map { describe($0.error) } ?? "connection failed"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        default: return "\(error)"
        }
    }
}

enum ProbeError: Error, CustomStringConvertible {
    case timedOut
    case invalidResponse
    case closedEarly

    var description: String {
        switch self {
        case .timedOut: return "timed out"
        case .invalidResponse: return "not an HTTP response"
        case .closedEarly: return "closed before answering"
        }
    }
}

/// Fulfils the promise when the TLS handshake completed; fails it on an error or a close first.
private final class HandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { promise.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ProbeError.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Reads the response's status line and fulfils the promise with the status and the bytes read.
private final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<(Int, Int)>
    private var bytes: [UInt8] = []
    private var received = 0

    init(_ promise: EventLoopPromise<(Int, Int)>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readableBytes
        if let chunk = buffer.readBytes(length: min(buffer.readableBytes, HTTPStatusLine.maximumLength + 1 - bytes.count)) {
            bytes += chunk
        }
        switch HTTPStatusLine.parse(bytes) {
        case .status(let status): promise.succeed((status, received))
        case .invalid: promise.fail(ProbeError.invalidResponse)
        case .incomplete: break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ProbeError.closedEarly)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
