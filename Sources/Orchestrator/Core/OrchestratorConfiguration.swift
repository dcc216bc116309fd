/// How an orchestrator instance is set up. Precedence when built by `cvmctl`:
/// command-line flag > environment variable > default.
public struct OrchestratorConfiguration: Sendable {
    /// Holds `state.sqlite` and the local host's image cache and volumes (`CVM_STATE`).
    public var stateDirectory: String
    /// The image catalog root (`CVM_IMAGES`).
    public var imagesDirectory: String
    /// The local hypervisor's libvirt URI (`CVM_CONNECT`).
    public var localURI: String
    /// `auto` (probe KVM, fall back to TCG), `kvm` or `qemu`.
    public var virtType: String
    /// Agent heartbeat period.
    public var heartbeatIntervalMs: Int
    /// How long deploy waits for the first heartbeat before rolling back.
    public var deployTimeoutSeconds: Double
    /// The address remote hosts reach this machine's QEMU at, for migrations towards the
    /// local host (`CVM_MIGRATION_ADDRESS`). A literal IP.
    public var localMigrationAddress: String?

    public init(stateDirectory: String = "/var/lib/cvmctl", imagesDirectory: String = "images",
                localURI: String = "qemu:///system", virtType: String = "auto",
                heartbeatIntervalMs: Int = 1000, deployTimeoutSeconds: Double = 90,
                localMigrationAddress: String? = nil) {
        self.localMigrationAddress = localMigrationAddress
        self.stateDirectory = stateDirectory
        self.imagesDirectory = imagesDirectory
        self.localURI = localURI
        self.virtType = virtType
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.deployTimeoutSeconds = deployTimeoutSeconds
    }
}
