import TMSCore

/// A vServer's backup chain as the data plane walks it: the primary first, then its backups,
/// and what to do when all are full.
public struct RouteChain: Sendable {
    public let members: [VServerRuntime]
    public let endAction: EndOfChainAction
    /// The primary's mode (the protocol the client speaks).
    public let mode: VServerConfig.Mode
    /// Whether the chain's connections need NIO channels: HTTP, or TLS on the primary's
    /// listener or toward any service of the chain. Plain TCP chains are relayed on raw sockets.
    let needsChannels: Bool

    init(members: [VServerRuntime], endAction: EndOfChainAction, mode: VServerConfig.Mode) {
        self.members = members
        self.endAction = endAction
        self.mode = mode
        needsChannels = mode != .tcp || members[0].tls != nil || members.contains { $0.services.contains { $0.tls != nil } }
    }

    public var primary: VServerRuntime { members[0] }
}

/// One generation of the configuration, as every core routes with it: the vServers by name
/// and the chain of each. Immutable; a reload publishes a new table to every core.
public final class RoutingTable: Sendable {
    public let generation: Int
    public let vServers: [String: VServerRuntime]
    public let chains: [String: RouteChain]
    public let config: TMSConfig

    init(generation: Int, config: TMSConfig, vServers: [String: VServerRuntime]) throws(BackupChainError) {
        self.generation = generation
        self.config = config
        self.vServers = vServers
        let topology = try config.backupChain()
        var chains: [String: RouteChain] = [:]
        for vServer in config.vServers {
            let ids = topology.chain(from: VServerID(vServer.name))
            chains[vServer.name] = RouteChain(members: ids.map { vServers[$0.name]! },
                                              endAction: topology.endAction(from: VServerID(vServer.name)),
                                              mode: vServer.mode)
        }
        self.chains = chains
    }
}
