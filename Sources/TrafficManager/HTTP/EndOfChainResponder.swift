import NIOCore
import NIOHTTP1

/// Answers the client's first request with an `EndOfChainResponse` and closes. Added in front
/// of the client's relay handler (which then never sees a byte) with autoRead off, so it asks
/// for reads itself until the request has been read.
final class EndOfChainResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let response: EndOfChainResponse
    private var requestEnded = false

    init(_ response: EndOfChainResponse) {
        self.response = response
    }

    /// The handlers to add, in pipeline order.
    static func handlers(_ response: EndOfChainResponse) -> [any ChannelHandler] {
        [ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)), HTTPResponseEncoder(),
         EndOfChainResponder(response)]
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head, .body:
            break
        case .end:
            // Answer once the whole request is read, so closing never resets unread bytes.
            guard !requestEnded else { return }
            requestEnded = true
            let channel = context.channel
            context.write(wrapOutboundOut(.head(response.head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !requestEnded { context.read() }
    }

    /// A client that closed its side before a whole request came gets no answer: the
    /// connection ends now (waiting for the idle timeout would hold its quota that long).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent, !requestEnded {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A request that does not parse gets no answer: close.
        context.close(promise: nil)
    }
}
