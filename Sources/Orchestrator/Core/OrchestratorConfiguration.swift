import CVMProtocol
/// The domain type the operator asks for (`--virt-type`, `CVM_VIRT_TYPE`).
public enum VirtTypeRequest: String, Sendable, CaseIterable, Codable {
    /// Probe KVM (a real boot of the image's kernel); fall back to TCG when it fails.
    case auto
    /// Always KVM.
    case kvm
    /// Always TCG.
    case qemu
}

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
    public var virtType: VirtTypeRequest
    /// Agent heartbeat period.
    public var heartbeatInterval: Duration
    /// How long deploy waits for the first heartbeat before rolling back.
    public var deployTimeout: Duration
    /// The address remote hosts reach this machine's QEMU at, for migrations towards the
    /// local host (`CVM_MIGRATION_ADDRESS`). A literal IP.
    public var localMigrationAddress: String?
    /// The CVM segment's subnet (`CVM_SUBNET`): the traffic manager's machine takes its first
    /// address, CVMs lease the others. Must not overlap any host's own networks.
    public var cvmSubnet: IPv4Subnet = Self.defaultCVMSubnet
    public static let defaultCVMSubnet = IPv4Subnet(network: 0x0A4D_0000, prefixLength: 24)  // 10.77.0.0/24

    public init(stateDirectory: String = "/var/lib/cvmctl", imagesDirectory: String = "images",
                localURI: String = "qemu:///system", virtType: VirtTypeRequest = .auto,
                heartbeatInterval: Duration = .seconds(1), deployTimeout: Duration = .seconds(90),
                localMigrationAddress: String? = nil) {
        self.localMigrationAddress = localMigrationAddress
        self.stateDirectory = stateDirectory
        self.imagesDirectory = imagesDirectory
        self.localURI = localURI
        self.virtType = virtType
        self.heartbeatInterval = heartbeatInterval
        self.deployTimeout = deployTimeout
    }

    /// The heartbeat period in whole milliseconds, as agents and records carry it.
    public var heartbeatIntervalMs: Int { Int(heartbeatInterval.milliseconds) }
}

extension Duration {
    /// Whole milliseconds (truncated).
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a Double, for clocks and displays.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
