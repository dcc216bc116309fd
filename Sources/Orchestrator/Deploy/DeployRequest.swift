import CVMProtocol
/// What `cvmctl deploy` asks for. Unset sizes come from the image's defaults.
public struct DeployRequest: Sendable, Equatable {
    public var image: String
    public var name: String?
    public var host: String
    public var task: String?
    public var role: AgentConfig.Role
    public var cluster: String?
    public var peers: [String]
    public var vcpus: Int?
    public var memoryMiB: Int?
    public var diskMiB: Int?
    /// How long to wait for the first heartbeat (nil: the configuration's `deployTimeout`).
    public var timeout: Duration?
    public var policyCommit: String?

    public init(image: String, name: String? = nil, host: String = CVMOrchestrator.localHostName, task: String? = nil,
                role: AgentConfig.Role = .single, cluster: String? = nil, peers: [String] = [], vcpus: Int? = nil,
                memoryMiB: Int? = nil, diskMiB: Int? = nil, timeout: Duration? = nil, policyCommit: String? = nil) {
        self.image = image
        self.name = name
        self.host = host
        self.task = task
        self.role = role
        self.cluster = cluster
        self.peers = peers
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.diskMiB = diskMiB
        self.timeout = timeout
        self.policyCommit = policyCommit
    }
}

/// The outcome of a deploy.
public struct DeployResult: Sendable {
    public var cvm: CVMRecord
    /// False when the CVM was already running as asked (an idempotent retry).
    public var created: Bool
    /// From the domain start to the first authenticated heartbeat.
    public var bootToHeartbeatMs: Int
    /// The whole deploy, checks and image staging included.
    public var totalMs: Int
    public var virtTypeReason: String
}
