import NIOCore
import NIOTLS

/// Relays bytes between a client and a service: one handler on each channel, paired.
///
/// Back-pressure: both channels run with autoRead off; a side asks its channel for the next
/// read only when the other side is writable (else when it becomes writable), so a slow
/// reader stalls the fast writer instead of buffering without bound. Half-close: the end of
/// one side's input shuts the other side's output (after flushing), and NIO closes a channel
/// whose input and output are both shut. A full close or an error on one side closes both.
/// Busy time and bytes go to the owning connection's task counters.
final class RelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Side { case client, service }

    let side: Side
    private(set) var connection: ProxyConnection?
    private var context: ChannelHandlerContext?
    private var partner: RelayHandler?
    /// A read is owed: the partner was not writable when this side finished a read.
    private var readOwed = false
    /// Monotonic ns at the first read of the current read cycle (0: none).
    private var cycleStart: UInt64 = 0
    /// Completes when this side's output, shut because the partner's input ended, has flushed.
    private var outputClosing: EventLoopFuture<Void>?
    /// Bytes read before the pair was linked. With autoRead off nothing is read then, except
    /// that NIO reads to EOF when the peer half-closes early (a client that sends its request
    /// and FIN while the service is still being connected).
    private var early: ByteBuffer?
    private var earlyInputClosed = false
    /// The client side of a TLS listener: the connection is routed once the handshake
    /// completed (a client that never completes one costs no backend connection and no quota;
    /// the idle timeout closes it).
    var routeAfterHandshake = false
    /// The service side of a TLS service until its handshake completed (a service that
    /// accepts but never completes one is closed after the connect timeout).
    var awaitingHandshake = false

    /// How long a half-closed side may take to write what is queued after its partner closed.
    static let flushGrace = TimeAmount.seconds(10)

    init(side: Side, connection: ProxyConnection) {
        self.side = side
        self.connection = connection
    }

    /// Pairs two handlers, passes on what the client side read early, and starts reading on both.
    static func link(_ client: RelayHandler, _ service: RelayHandler) {
        client.partner = service
        service.partner = client
        if let early = client.early {
            client.early = nil
            client.connection?.relayed(early.readableBytes, from: .client)
            service.context?.writeAndFlush(NIOAny(early), promise: nil)
        }
        if client.earlyInputClosed {
            service.shutOutput()
        } else {
            client.context?.read()
        }
        service.context?.read()
    }

    /// Hands what was read before linking to the handlers after `point` (those added in front
    /// of this one, such as the HTTP responder; `point` is just behind any TLS handler).
    func replayEarlyInput(from point: ChannelHandlerContext) {
        if let early {
            self.early = nil
            point.fireChannelRead(NIOAny(early))
            point.fireChannelReadComplete()
        }
        if earlyInputClosed {
            earlyInputClosed = false
            point.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
        if side == .client { connection?.finish() }
        connection = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        guard side == .client else { return }
        if routeAfterHandshake {
            connection?.register()
            context.read()  // drives the handshake (autoRead is off)
        } else {
            connection?.start()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let partner else {
            var buffer = unwrapInboundIn(data)
            if early == nil { early = buffer } else { early!.writeBuffer(&buffer) }
            return
        }
        if cycleStart == 0 { cycleStart = MonotonicTime.nanos() }
        connection?.relayed(unwrapInboundIn(data).readableBytes, from: side)
        partner.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard partner != nil else { return }
        partner?.context?.flush()
        if partner?.isWritable ?? false {
            context.read()
        } else {
            readOwed = true
        }
        if cycleStart != 0 {
            let end = MonotonicTime.nanos()
            connection?.busy(from: cycleStart, to: end)
            cycleStart = 0
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    private func partnerBecameWritable() {
        if readOwed, let context {
            readOwed = false
            context.read()
        }
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            awaitingHandshake = false
            if routeAfterHandshake {
                routeAfterHandshake = false
                connection?.start()
            }
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            // Half-close: what this side sent is complete; pass the FIN on.
            if let partner { partner.shutOutput() } else { earlyInputClosed = true }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Shuts this side's output once what is queued on it has been written.
    private func shutOutput() {
        guard let context, outputClosing == nil else { return }
        context.flush()
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        outputClosing = promise.futureResult
    }

    /// Closes this side: at once, or — when its output is being shut after a half-close —
    /// as soon as what is queued on it has been written, so no relayed byte is dropped.
    private func closeAfterPendingWrites() {
        guard let context else { return }
        // Usually nothing is left to write: close now, without a timer per connection.
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        if let outputClosing, buffered > 0 {
            let channel = context.channel
            outputClosing.assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
            // A peer that never reads again must not hold the channel forever.
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.flushGrace) { channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.closeAfterPendingWrites()
        if side == .client { connection?.finish() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A handler that passes everything on: where replayed input enters the pipeline.
final class ReplayPoint: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
}
