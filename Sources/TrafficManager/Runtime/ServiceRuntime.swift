import NIOCore
import NIOSSL
import Synchronization

/// A service of a running vServer: its address and its health, which monitors write and every
/// core reads when balancing.
public final class ServiceRuntime: Sendable {
    public let config: ServiceConfig
    public let address: SocketAddress
    /// Connections to it are TLS (its `tls` key), read when the service was configured.
    let tls: NIOSSLContext?
    private let up: Atomic<Bool>
    /// Connections open to the service, over every core (what least connections compares).
    private let open = Atomic<Int>(0)
    /// Index = core. Kept across reloads while the service keeps its name and address.
    let counters: [CoreServiceCounters]

    init(_ config: ServiceConfig, up: Bool = true, cores: Int, counters: [CoreServiceCounters]? = nil) throws {
        self.config = config
        self.counters = counters.flatMap { $0.count == cores ? $0 : nil } ?? (0..<cores).map { _ in CoreServiceCounters() }
        self.address = try config.address.socketAddress()
        self.tls = try config.tls?.clientContext()
        self.up = Atomic(up)
    }

    /// Whether the service may receive new connections.
    public var isUp: Bool { up.load(ordering: .relaxed) }

    func setUp(_ value: Bool) { up.store(value, ordering: .relaxed) }

    /// Connections open to the service now, counted by every core.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    func connectionOpened() { open.add(1, ordering: .relaxed) }

    func connectionClosed() { open.subtract(1, ordering: .relaxed) }
}
