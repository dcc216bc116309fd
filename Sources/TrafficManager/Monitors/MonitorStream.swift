import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// The publishing end of offloaded monitoring (see ``MonitoringConfig``): a listener on the
/// control loop; each follower that connects gets every monitor's state at once and then every
/// 100 ms the states that changed, and a full snapshot ended by `E` every 500 ms. A follower
/// that does not read is skipped (nothing is queued for it beyond what the socket holds).
final class MonitorPublisher: Sendable {
    let address: HostPort
    private let channel: any Channel

    private init(address: HostPort, channel: any Channel) {
        self.address = address
        self.channel = channel
    }

    static func start(address: HostPort, tls: TLSConfig?, monitors: MonitorSet) async throws -> MonitorPublisher {
        let context = try tls?.serverContext()
        let channel = try await ServerBootstrap(group: monitors.controlLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try channel.pipeline.syncOperations.addHandler(PublisherHandler(monitors: monitors))
                }
            }
            .bind(to: try address.socketAddress()).get()
        let bound = HostPort(host: address.host, port: channel.localAddress?.port ?? address.port)
        return MonitorPublisher(address: bound, channel: channel)
    }

    func close() async { try? await channel.close() }
}

private final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let monitors: MonitorSet
    private var timer: RepeatedTask?
    private var sent: [String: MonitorState] = [:]
    private var ticks = 0

    init(monitors: MonitorSet) { self.monitors = monitors }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        sendSnapshot(context: context)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            let (handler, context) = bound.value
            handler.tick(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// What a follower sends is not read for meaning.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func tick(context: ChannelHandlerContext) {
        ticks += 1
        guard context.channel.isWritable else { return }
        if ticks % 5 == 0 {
            sendSnapshot(context: context)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 256)
        for state in monitors.snapshotOnLoop() {
            let key = state.vServer + "\t" + state.service
            guard sent[key] != state else { continue }
            sent[key] = state
            buffer.writeString(MonitorStreamLine.state(state).text)
        }
        if buffer.readableBytes > 0 { context.writeAndFlush(NIOAny(buffer), promise: nil) }
    }

    private func sendSnapshot(context: ChannelHandlerContext) {
        let states = monitors.snapshotOnLoop()
        var buffer = context.channel.allocator.buffer(capacity: 64 * (states.count + 1))
        for state in states {
            sent[state.vServer + "\t" + state.service] = state
            buffer.writeString(MonitorStreamLine.state(state).text)
        }
        buffer.writeString(MonitorStreamLine.end(count: states.count).text)
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }
}

/// The following end: connects to a publisher (reconnecting every second while it cannot),
/// and once a full snapshot arrived pauses this traffic manager's own monitors and applies the
/// publisher's states as they come. When the stream ends or no snapshot came for
/// ``MonitoringConfig/silenceLimit``, the own monitors resume from the last states.
final class MonitorFollower: Sendable {
    let address: HostPort
    private let state: NIOLoopBoundBox<State>
    private let loop: any EventLoop

    struct State {
        var stopped = false
        var channel: (any Channel)?
        var checker: RepeatedTask?
    }

    private init(address: HostPort, loop: any EventLoop) {
        self.address = address
        self.loop = loop
        state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    static func start(address: HostPort, tls: TLSConfig?, monitors: MonitorSet, logger: Logger) async throws -> MonitorFollower {
        let context = try tls?.clientContext()
        let follower = MonitorFollower(address: address, loop: monitors.controlLoop)
        try await monitors.controlLoop.submit {
            follower.connect(context: context, monitors: monitors, logger: logger)
        }.get()
        return follower
    }

    private func connect(context: NIOSSLContext?, monitors: MonitorSet, logger: Logger) {
        guard !state.value.stopped else { return }
        let handler = FollowerHandler(monitors: monitors, logger: logger, address: address)
        // The channel lives on this loop too: the handler is only ever touched there.
        let boundHandler = NIOLoopBound(handler, eventLoop: loop)
        let target: SocketAddress
        do { target = try address.socketAddress() } catch { return }
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(1))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(boundHandler.value)
                }
            }
            .connect(to: target)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    state.value.channel = channel
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        self.state.value.channel = nil
                        if monitors.setRemoteOnLoop(false) {
                            logger.notice("monitoring back: this traffic manager's monitors resume", metadata: [
                                "cvm.publisher": "\(self.address)", "cvm.reason": "\(handler.endReason)"])
                        }
                        self.loop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.connect(context: context, monitors: monitors, logger: logger) }
                    }
                case .failure:
                    self.loop.assumeIsolated().scheduleTask(in: .seconds(1)) { self.connect(context: context, monitors: monitors, logger: logger) }
                }
            }
    }

    /// Stops following (the configuration no longer names the publisher: e.g. its CVM failed
    /// or was decommissioned); the own monitors resume from the last states.
    func stop(monitors: MonitorSet, logger: Logger) async {
        try? await loop.submit { [state, address] in
            state.value.stopped = true
            state.value.channel?.close(promise: nil)
            if monitors.setRemoteOnLoop(false) {
                logger.notice("monitoring back: this traffic manager's monitors resume", metadata: [
                    "cvm.publisher": "\(address)", "cvm.reason": "no longer followed"])
            }
        }.get()
    }
}

private final class FollowerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let monitors: MonitorSet
    let logger: Logger
    let address: HostPort
    private var pending: [UInt8] = []
    private var snapshot: [MonitorState] = []
    private var following = false
    private var lastEnd = NIODeadline.now()
    private var checker: RepeatedTask?
    private(set) var endReason = "the stream ended"

    init(monitors: MonitorSet, logger: Logger, address: HostPort) {
        self.monitors = monitors
        self.logger = logger
        self.address = address
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        lastEnd = .now()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        checker = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(250), delay: .milliseconds(250)) { _ in
            let (handler, context) = bound.value
            let silence = TimeAmount.nanoseconds(MonitoringConfig.silenceLimit.totalNanoseconds)
            if NIODeadline.now() - handler.lastEnd > silence {
                handler.endReason = "no snapshot for \(MonitoringConfig.silenceLimit)"
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        checker?.cancel()
        checker = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        endReason = "\(error)"
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        while let newline = pending.firstIndex(of: 0x0a) {
            let line = String(decoding: pending[..<newline], as: UTF8.self)
            pending.removeSubrange(...newline)
            guard let parsed = MonitorStreamLine(Substring(line)) else {
                endReason = "a malformed line"
                context.close(promise: nil)
                return
            }
            handle(parsed)
        }
        if pending.count > MonitorStreamLine.maximumLength {
            endReason = "a line longer than \(MonitorStreamLine.maximumLength) bytes"
            context.close(promise: nil)
        }
    }

    private func handle(_ line: MonitorStreamLine) {
        switch line {
        case .state(let state):
            if following {
                _ = monitors.adoptOnLoop([state])
            } else if snapshot.count < 100_000 {
                snapshot.append(state)
            }
        case .end:
            lastEnd = .now()
            guard !following else { return }
            following = true
            _ = monitors.adoptOnLoop(snapshot)
            snapshot = []
            if monitors.setRemoteOnLoop(true) {
                logger.notice("monitoring offloaded: following the monitors' states at \(address)")
            }
        }
    }
}
