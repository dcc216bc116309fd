import NIOCore
import NIOTLS

/// One socket of the per-request HTTP path as `HTTPSession` (the client's) and `HTTPBackend`
/// (a service's) use it: a raw socket on the core's poll set (`PolledStream`), or a NIO channel
/// (`ChannelStream`) where TLS needs one. Loop-bound.
protocol ByteStream: AnyObject {
    /// Whether the socket is open.
    var isActive: Bool { get }
    /// Whether less than the high-water mark waits to be written (else `streamWritable` tells
    /// when it drained).
    var isWritable: Bool { get }
    var remoteAddress: SocketAddress? { get }
    /// Queues bytes; `flush` writes what is queued.
    func write(_ bytes: ByteBuffer)
    func flush()
    /// Flushes, and closes once everything queued has been written.
    func closeAfterWrites()
    func close()
    /// Closes with a reset (SO_LINGER 0): for a connection with nothing in flight.
    func abort()
    /// Reads, or stops reading, the socket (back-pressure).
    func setReading(_ on: Bool)
}

/// What a `ByteStream` tells its owner, on the loop.
protocol ByteStreamDelegate: AnyObject {
    func streamRead(_ bytes: ByteBuffer)
    /// A round of reads ended (the socket has nothing more for now).
    func streamReadComplete()
    /// What was queued drained below the low-water mark.
    func streamWritable()
    /// The peer shut its output (FIN); writing may go on.
    func streamInputClosed()
    /// The stream closed (told once).
    func streamClosed()
}

/// A NIO channel as a `ByteStream`: the handler that ends its pipeline (after any TLS handler).
final class ChannelStream: ChannelDuplexHandler, RemovableChannelHandler, ByteStream {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var delegate: (any ByteStreamDelegate)?
    private var reading = true
    /// For a TLS service's connection: told once, true when the handshake completed, false
    /// when the channel ended first.
    var handshakeDone: ((Bool) -> Void)?

    init(delegate: any ByteStreamDelegate) {
        self.delegate = delegate
    }

    var isActive: Bool { context?.channel.isActive ?? false }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    func write(_ bytes: ByteBuffer) { context?.write(wrapOutboundOut(bytes), promise: nil) }
    func flush() { context?.flush() }
    func close() { context?.close(promise: nil) }

    /// A plain close: NIO's socket options take integers only (no SO_LINGER value), and TLS
    /// ends with its close_notify anyway.
    func abort() { close() }

    func closeAfterWrites() {
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
    }

    func setReading(_ on: Bool) {
        guard on != reading else { return }
        reading = on
        try? context?.channel.syncOptions?.setOption(.autoRead, value: on)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        ended()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended()
        context.fireChannelInactive()
    }

    private func ended() {
        if let handshakeDone {
            self.handshakeDone = nil
            handshakeDone(false)
        }
        guard let delegate else { return }
        self.delegate = nil
        delegate.streamClosed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        delegate?.streamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.streamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { delegate?.streamWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let handshakeDone {
            self.handshakeDone = nil
            handshakeDone(true)
        }
        if case .inputClosed = event as? ChannelEvent { delegate?.streamInputClosed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
