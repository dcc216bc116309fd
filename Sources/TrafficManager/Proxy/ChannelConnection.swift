import NIOCore
import NIOSSL

/// A client connection relayed through NIO channels: what needs a channel pipeline (TLS on
/// either side, HTTP answers from the traffic manager). Its client handler ends it
/// (`channelInactive` or `handlerRemoved`, whichever comes first).
final class ChannelConnection: ProxyConnection {
    let frontend: any Channel
    private(set) var clientHandler: RelayHandler!
    private var serviceHandler: RelayHandler?
    private var backend: (any Channel)?

    init(core: CoreRuntime, frontend: any Channel, chain: RouteChain) {
        self.frontend = frontend
        super.init(core: core, chain: chain)
        clientHandler = RelayHandler(side: .client, connection: self)
    }

    override var clientAddress: SocketAddress? { frontend.remoteAddress }

    override func openService(_ address: SocketAddress, of member: VServerRuntime, index: Int) {
        member.coreState(core.index).bootstrap.connect(to: address).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let channel): connected(channel, tls: member.services[index].tls, member: member)
            case .failure: serviceFailed()
            }
        }
    }

    private func connected(_ channel: any Channel, tls: NIOSSLContext?, member: VServerRuntime) {
        guard phase == .connecting else {
            channel.close(promise: nil)
            return
        }
        let handler = RelayHandler(side: .service, connection: self)
        do {
            if let tls {
                // The handshake runs as the relay starts; the service's certificate must name
                // the address connected to (checked against the channel's remote address).
                try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: nil))
                handler.awaitingHandshake = true
                let timeout = TimeAmount.nanoseconds(member.config.connectTimeout.totalNanoseconds)
                channel.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                    if handler.awaitingHandshake { channel.close(promise: nil) }
                }
            }
            try channel.pipeline.syncOperations.addHandler(handler)
        } catch {
            channel.close(promise: nil)
            serviceFailed()
            return
        }
        backend = channel
        serviceHandler = handler
        _ = serviceConnected()
        RelayHandler.link(clientHandler, handler)
    }

    override func closeClient() {
        frontend.close(promise: nil)
    }

    /// Answers once the client's request is read. What the client sent before is replayed
    /// into the responder from just in front of the relay handler (behind a TLS handler,
    /// which must not see plaintext again).
    override func answer(_ response: EndOfChainResponse) {
        do {
            let point = ReplayPoint()
            try frontend.pipeline.syncOperations.addHandlers(
                [point] + EndOfChainResponder.handlers(response), position: .before(clientHandler))
            clientHandler.replayEarlyInput(from: try frontend.pipeline.syncOperations.context(handler: point))
        } catch {
            close()
        }
    }

    override func dropService() {
        if serviceHandler == nil { backend?.close(promise: nil) }
        serviceHandler = nil
        backend = nil
    }
}
