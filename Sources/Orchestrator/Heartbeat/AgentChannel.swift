import Libvirt
import CVMProtocol
import Foundation
import Synchronization

/// The orchestrator's end of a CVM agent's virtio-serial channel, read through libvirt's
/// stream API (`virDomainOpenChannel`) on the same connection that manages the domain.
/// That path needs no network and no listener on the host, works the same for a remote
/// host over `qemu+ssh://`, and after a migration is simply reopened on the new host.
///
/// Incoming lines are framed, authenticated (HMAC-SHA256 with the CVM's secret) and
/// checked for replay before they become ``Event``s; anything else is reported as
/// `.rejected` and dropped.
public final class AgentChannel: Sendable {
    /// The alias given to the channel in the domain XML (`ua-` marks a user alias).
    public static let alias = "ua-agent"
    /// The virtio-serial port name the agent looks for.
    public static let portName = AgentConfig.defaultChannel

    public enum Event: Sendable {
        case heartbeat(Heartbeat, newBoot: Bool)
        case acknowledged(Acknowledgement)
        case goodbye(Goodbye)
        case rejected(String)
        case closed(String)
    }

    public let events: AsyncStream<Event>
    private let stream: LibvirtStream
    /// Where the stream's calls go, one at a time (see `LibvirtConnection.serially`).
    private let connection: LibvirtConnection
    private let state: Mutex<ReadState>
    private let continuation: AsyncStream<Event>.Continuation
    private let secret: [UInt8]
    private let cvmID: String

    struct ReadState {
        var framer = LineFramer()
        var verifier: HeartbeatVerifier
        var closed = false
        var commandSeq: UInt64 = UInt64(Date().timeIntervalSince1970 * 1000)
    }

    /// Opens the agent channel of a running domain. `force` takes it over from another
    /// client (used by decommission to reach an agent the monitor is holding).
    public init(domain: LibvirtDomain, cvmID: String, secret: [UInt8], force: Bool = false) throws {
        let stream = try LibvirtStream(connection: domain.connection, nonBlocking: true)
        try domain.openChannel(alias: Self.alias, into: stream, force: force)
        self.stream = stream
        self.connection = domain.connection
        self.secret = secret
        self.cvmID = cvmID
        self.state = Mutex(ReadState(verifier: HeartbeatVerifier(id: cvmID, secret: secret)))
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(256))
        try stream.onEvents { [weak self] events in self?.handle(events) }
    }

    deinit {
        continuation.finish()
    }

    /// At most this much is read per wake-up: libvirt's single event thread serves every
    /// channel and connection of the process, and a guest writing without pause must not
    /// hold it. What is left is read on the next wake-up (libvirt calls again at once while
    /// data waits).
    static let readBudgetPerWakeUp = 64 * 1024

    /// Runs on libvirt's event thread: read what is readable (up to the budget), emit events.
    private func handle(_ events: StreamEvents) {
        var out: [Event] = []
        var closeReason: String?
        var budget = Self.readBudgetPerWakeUp
        while closeReason == nil && budget > 0 {
            let received: LibvirtStream.Received
            do {
                received = try stream.receive(maxBytes: 8192)
            } catch {
                closeReason = "channel error: \(error)"
                break
            }
            switch received {
            case .wouldBlock:
                if events.contains(.hangup) || events.contains(.error) { closeReason = "channel hung up" }
                break
            case .endOfStream:
                closeReason = "channel closed by the host side"
            case .bytes(let bytes):
                budget -= bytes.count
                state.withLock { s in
                    for framed in s.framer.feed(bytes) {
                        out.append(Self.decode(framed, verifier: &s.verifier, secret: secret))
                    }
                }
                continue
            }
            break
        }
        for e in out { continuation.yield(e) }
        if let closeReason {
            stream.stopEvents()
            let first = state.withLock { s -> Bool in
                defer { s.closed = true }
                return !s.closed
            }
            if first {
                continuation.yield(.closed(closeReason))
                continuation.finish()
            }
        }
    }

    private static func decode(_ framed: LineFramer.Event, verifier: inout HeartbeatVerifier, secret: [UInt8]) -> Event {
        guard case .line(let line) = framed else { return .rejected("over-long line discarded") }
        guard let message = try? WireMessage.parse(line) else { return .rejected("malformed line") }
        switch message.kind {
        case .heartbeat:
            switch verifier.check(message) {
            case .accepted(let hb, let newBoot): return .heartbeat(hb, newBoot: newBoot)
            case .rejected(let why): return .rejected("heartbeat rejected: \(why)")
            }
        case .acknowledgement:
            guard message.verify(secret: secret), let ack = try? Acknowledgement(message) else { return .rejected("bad ACK") }
            return .acknowledged(ack)
        case .goodbye:
            guard message.verify(secret: secret), let bye = try? Goodbye(message) else { return .rejected("bad BYE") }
            return .goodbye(bye)
        default:
            return .rejected("unexpected \(message.kind.rawValue) from the guest")
        }
    }

    /// Sends a signed command to the agent; returns its sequence number (its `ACK` carries it).
    @discardableResult
    public func send(_ op: Command.Operation, role: AgentConfig.Role? = nil, peers: [String] = [],
                     probe: ProbeTarget? = nil, config: String? = nil) async throws -> UInt64 {
        let seq = state.withLock { s -> UInt64 in s.commandSeq += 1; return s.commandSeq }
        let line = Command(id: cvmID, seq: seq, op: op, role: role, peers: peers, probe: probe, config: config).render(signedWith: secret)
        let stream = self.stream
        try await connection.serially { try stream.sendAll(line) }
        return seq
    }

    /// Closes our end; the agent keeps running and the channel can be opened again. The
    /// stream is aborted on the connection's thread after the calls before it (over a dead
    /// link, once the keepalive has closed the connection), without waiting.
    public func close() {
        stream.stopEvents()
        let stream = self.stream
        connection.eventually { stream.abort() }
        let first = state.withLock { s -> Bool in
            defer { s.closed = true }
            return !s.closed
        }
        if first {
            continuation.yield(.closed("closed by the orchestrator"))
            continuation.finish()
        }
    }
}
