/// What `/status` serves: each vServer's address, quota and services, and what the monitors see.
public struct StatusReport: Sendable, Hashable, Codable {
    public var generation: Int
    public var cores: Int
    public var vServers: [VServerStatus]
    public var monitors: [MonitorStatus]

    public func vServer(_ name: String) -> VServerStatus? { vServers.first { $0.name == name } }
}

public struct VServerStatus: Sendable, Hashable, Codable {
    public var name: String
    /// The address listened on (`nil`: a backup only).
    public var listening: String?
    public var mode: String
    public var method: String
    /// Removed by a reload; its connections are draining.
    public var draining: Bool
    public var quota: QuotaStatus
    public var services: [ServiceStatus]
}

public struct QuotaStatus: Sendable, Hashable, Codable {
    public var limit: Int
    public var inUse: Int
    public var inUsePerCore: [Int]
    public var exclusivePerCore: Int
    public var sharedPool: Int
    public var sharedAvailable: Int
    public var batch: Int
    public var waiting: Int
}

public struct ServiceStatus: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var capacity: Int
    public var weight: Int
    public var up: Bool
}

extension VServerRuntime {
    func status(listening: HostPort?, draining: Bool) -> VServerStatus {
        let state = quota.inspect()
        return VServerStatus(
            name: config.name, listening: listening?.description, mode: config.mode.rawValue,
            method: config.method.rawValue, draining: draining,
            quota: QuotaStatus(limit: state.sizing.limit, inUse: state.totalInUse, inUsePerCore: state.cores.map(\.inUse),
                               exclusivePerCore: state.sizing.perCoreExclusive, sharedPool: state.sizing.sharedPool,
                               sharedAvailable: state.sharedAvailable, batch: state.sizing.batch, waiting: state.waiting),
            services: services.map {
                ServiceStatus(name: $0.config.name, address: $0.config.address.description, capacity: $0.config.capacity,
                              weight: $0.config.weight, up: $0.isUp)
            })
    }
}
