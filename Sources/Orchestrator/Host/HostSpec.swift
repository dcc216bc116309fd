import Foundation

/// What `cvmctl host add` asks for: a remote hypervisor reached over SSH with a pinned
/// host key and key-based login.
public struct HostSpec: Sendable, Equatable {
    public var name: String
    /// A literal IP address: names would be resolved by DNS, off this machine.
    public var address: String
    public var user: String
    /// Private key file (ed25519; libssh2 1.10 cannot sign with RSA for OpenSSH 9).
    public var identity: String
    /// The host's public key, `TYPE BASE64` (as in `ssh-keyscan` output without the address).
    public var hostKey: String?
    public var zone: String
    public var latitude: Double
    public var longitude: Double
    public var trust: HostRecord.Trust
    public var cpus: Int
    public var memoryMiB: Int
    public var costPerHour: Double
    /// Where images and volumes live on that host.
    public var dataDir: String
    /// Domain types allowed there.
    public var hypervisors: [String]
    /// The pinned key may be absent only when this is set: trust on first use, explicitly.
    public var acceptNewHostKey: Bool

    public init(name: String, address: String, user: String = "root", identity: String, hostKey: String?,
                zone: String = "default", latitude: Double = 0, longitude: Double = 0, trust: HostRecord.Trust = .private,
                cpus: Int = 0, memoryMiB: Int = 0, costPerHour: Double = 0, dataDir: String = "/var/lib/cvm",
                hypervisors: [String] = ["qemu", "kvm"], acceptNewHostKey: Bool = false) {
        self.hypervisors = hypervisors
        self.acceptNewHostKey = acceptNewHostKey
        self.name = name
        self.address = address
        self.user = user
        self.identity = identity
        self.hostKey = hostKey
        self.zone = zone
        self.latitude = latitude
        self.longitude = longitude
        self.trust = trust
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.costPerHour = costPerHour
        self.dataDir = dataDir
    }

    static let keyTypes: Set = ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"]

    /// Checks every field; the error says which one and why.
    public func validate() throws {
        guard CVMOrchestrator.isValidName(name) else {
            throw OrchestratorError.invalidArgument("invalid host name '\(name)': use 1-40 characters a-z, 0-9 and '-', starting with a letter")
        }
        guard Self.isLiteralIP(address) else {
            throw OrchestratorError.invalidArgument("--address must be a literal IPv4 or IPv6 address, not '\(address)' (names are not resolved)")
        }
        guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw OrchestratorError.invalidArgument("invalid --user '\(user)'")
        }
        guard FileManager.default.isReadableFile(atPath: identity) else {
            throw OrchestratorError.invalidArgument("identity file \(identity) does not exist or is not readable")
        }
        if let hostKey {
            let parts = hostKey.split(separator: " ").map(String.init)
            guard parts.count >= 2, Self.keyTypes.contains(parts[0]), Data(base64Encoded: parts[1]) != nil else {
                throw OrchestratorError.invalidArgument("--host-key must be 'TYPE BASE64' with TYPE one of \(Self.keyTypes.sorted().joined(separator: ", "))")
            }
        } else if !acceptNewHostKey {
            throw OrchestratorError.invalidArgument("no host key given: pass --host-key 'TYPE BASE64' (from the host's /etc/ssh/ssh_host_ed25519_key.pub), or --accept-new-host-key to trust the key it presents now")
        }
        guard !hypervisors.isEmpty, hypervisors.allSatisfy({ ImageManifest.knownHypervisors.contains($0) }) else {
            throw OrchestratorError.invalidArgument("--hypervisors must list kvm and/or qemu")
        }
        guard dataDir.hasPrefix("/"), !dataDir.contains("..") else {
            throw OrchestratorError.invalidArgument("--data-dir must be an absolute path")
        }
        guard cpus >= 0, memoryMiB >= 0, costPerHour >= 0 else {
            throw OrchestratorError.invalidArgument("--cpus, --memory-mib and --cost must not be negative")
        }
        guard (-90...90).contains(latitude), (-180...180).contains(longitude) else {
            throw OrchestratorError.invalidArgument("--lat must be within -90...90 and --lon within -180...180")
        }
    }

    static func isLiteralIP(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
