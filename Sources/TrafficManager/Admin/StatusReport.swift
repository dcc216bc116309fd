/// What `/status` serves: each vServer's address, quota and services, and what the monitors see.
public struct StatusReport: Sendable, Hashable, Codable {
    public var generation: Int
    public var cores: Int
    public var vServers: [VServerStatus]
    public var monitors: [MonitorStatus]
    /// The access log, when connections are recorded.
    public var accessLog: AccessLogStatus?

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

/// The access log in `/status`: records written, the spool, and the collector as the shipper
/// sees it (with its last summary).
public struct AccessLogStatus: Sendable, Hashable, Codable {
    public var records: Int
    /// Records a core dropped because the writer fell behind.
    public var lost: Int
    public var file: String?
    public var spool: Spool?
    public var collector: Collector?

    public struct Spool: Sendable, Hashable, Codable {
        public var directory: String
        public var bytes: Int
        public var highWaterBytes: Int
        public var maxBytes: Int
        public var records: Int
        public var unacknowledged: Int
        public var lastSeq: UInt64
        public var acknowledged: UInt64
        public var dropped: Int
    }

    public struct Collector: Sendable, Hashable, Codable {
        public var address: String
        public var connected: Bool
        public var id: String?
        /// Why the collector refuses records (its disk is full), if it does.
        public var refusing: String?
        /// Per vServer, records per outcome, as the collector counts them.
        public var vServers: [String: [String: Int]]
        public var topClients: [TopClient]
    }

    public struct TopClient: Sendable, Hashable, Codable {
        public var client: String
        public var records: Int
    }
}
