import NIOCore
import Synchronization

/// A service of a running vServer: its address and its health, which monitors write and every
/// core reads when balancing.
public final class ServiceRuntime: Sendable {
    public let config: ServiceConfig
    public let address: SocketAddress
    private let up: Atomic<Bool>

    init(_ config: ServiceConfig, up: Bool = true) throws {
        self.config = config
        self.address = try config.address.socketAddress()
        self.up = Atomic(up)
    }

    /// Whether the service may receive new connections.
    public var isUp: Bool { up.load(ordering: .relaxed) }

    func setUp(_ value: Bool) { up.store(value, ordering: .relaxed) }
}
