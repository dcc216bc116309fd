/// The per-CVM configuration the orchestrator injects into the guest as `/etc/cvm/config`.
///
/// Every value of this type is valid: the initializer and the parser check each field with
/// the same rules, so `render()` always produces a file that `parse` accepts and that gives
/// back an equal value.
///
/// The file is `key=value` lines; blank lines and lines starting with `#` are ignored;
/// spaces around keys and values are trimmed. Keys (all required unless noted):
///
/// | key | value |
/// |---|---|
/// | `id` | UUID, `8-4-4-4-12` hex digits (stored lower-case) |
/// | `name` | 1–64 of `[A-Za-z0-9._-]` |
/// | `task` | 1–64 of `[A-Za-z0-9._-]` (e.g. `health-monitor`) |
/// | `role` | `single`, `master` or `servant` |
/// | `peers` | comma-separated names (same charset as `name`); may be empty |
/// | `secret` | 64 hex digits = the 32-byte HMAC key |
/// | `intervalMs` | optional, heartbeat interval, 50...3_600_000, default 1000 |
/// | `channel` | optional, virtio-serial port name, default `org.cvm.agent.0` |
/// | `address` | optional, the CVM's address on the CVM segment with its prefix, `10.77.0.2/24` |
/// | `mac` | with `address`: the NIC's MAC, `52:54:00:4d:00:02` (the agent configures that NIC) |
///
/// `description` redacts the secret, so logging a config never leaks it.
public struct AgentConfig: Sendable, Equatable, CustomStringConvertible {
    /// The role of the CVM in its task's cluster.
    public enum Role: String, Sendable, CaseIterable, Codable {
        case single, master, servant
    }

    public static let defaultIntervalMs = 1000
    /// The first line of every rendered configuration.
    public static let renderedHeader = "# CVM agent configuration, written by the orchestrator. Contains a secret: mode 0600."
    public static let defaultChannel = "org.cvm.agent.0"
    public static let intervalRange = 50...3_600_000

    /// The CVM's identity, lower-case UUID text.
    public let id: String
    public let name: String
    public let task: String
    public let role: Role
    /// Names of the other members of the cluster (may be empty).
    public let peers: [String]
    /// The 32-byte key that signs every wire message of this CVM.
    public let secret: [UInt8]
    public let intervalMs: Int
    /// Name of the virtio-serial port the agent talks on.
    public let channel: String
    /// The CVM's NIC on the CVM segment, when it has one.
    public let network: Network?

    /// An address (host bits included) and prefix length on the segment, and the NIC's MAC.
    public struct Network: Sendable, Equatable {
        public let address: UInt32
        public let prefixLength: Int
        public let mac: String

        public init(address: UInt32, prefixLength: Int, mac: String) throws {
            guard (8...30).contains(prefixLength) else {
                throw AgentConfigError(.invalidValue, line: nil, key: "address", "the prefix length must be 8 to 30")
            }
            guard Self.isMAC(mac) else {
                throw AgentConfigError(.invalidValue, line: nil, key: "mac", "expected six hex pairs like 52:54:00:4d:00:02")
            }
            self.address = address
            self.prefixLength = prefixLength
            self.mac = mac.lowercased()
        }

        public var subnet: IPv4Subnet { IPv4Subnet(network: address, prefixLength: prefixLength) }
        public var addressText: String { "\(IPv4Subnet.format(address))/\(prefixLength)" }

        static func isMAC(_ text: String) -> Bool {
            let pairs = text.split(separator: ":", omittingEmptySubsequences: false)
            return pairs.count == 6 && pairs.allSatisfy { $0.utf8.count == 2 && $0.utf8.allSatisfy { Hex.value(of: $0) != nil } }
        }

        /// `a.b.c.d/n` with any host bits (it is an address, not a network).
        static func parseAddress(_ text: String) -> (UInt32, Int)? {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let value = IPv4Subnet.parseAddress(String(parts[0])),
                  parts[1].utf8.count <= 2, let length = Int(parts[1]), String(length) == parts[1] else { return nil }
            return (value, length)
        }
    }

    /// Builds a configuration, checking every field.
    /// - Throws: `AgentConfigError` with `code == .invalidValue` naming the bad key
    ///   (`line` is nil). The error never contains the secret.
    public init(
        id: String, name: String, task: String, role: Role, peers: [String] = [],
        secret: [UInt8], intervalMs: Int = AgentConfig.defaultIntervalMs,
        channel: String = AgentConfig.defaultChannel, network: Network? = nil
    ) throws {
        try AgentConfig.check(uuid: id, line: nil)
        try AgentConfig.check(name: name, key: "name", line: nil)
        try AgentConfig.check(name: task, key: "task", line: nil)
        for peer in peers { try AgentConfig.check(name: peer, key: "peers", line: nil) }
        guard secret.count == 32 else {
            throw AgentConfigError(.invalidValue, line: nil, key: "secret", "must be 32 bytes")
        }
        guard AgentConfig.intervalRange.contains(intervalMs) else {
            throw AgentConfigError(.invalidValue, line: nil, key: "intervalMs",
                                   "must be within \(AgentConfig.intervalRange)")
        }
        try AgentConfig.check(channel: channel, line: nil)
        self.id = id.lowercased()
        self.name = name
        self.task = task
        self.role = role
        self.peers = peers
        self.secret = secret
        self.intervalMs = intervalMs
        self.channel = channel
        self.network = network
    }

    /// Renders the file contents, ending in a newline. Contains the secret: write it with
    /// mode 0600 only.
    public func render() -> String {
        """
        \(AgentConfig.renderedHeader)
        id=\(id)
        name=\(name)
        task=\(task)
        role=\(role.rawValue)
        peers=\(peers.joined(separator: ","))
        secret=\(Hex.encode(secret))
        intervalMs=\(intervalMs)
        channel=\(channel)

        """ + (network.map { "address=\($0.addressText)\nmac=\($0.mac)\n" } ?? "")
    }

    public var description: String {
        "AgentConfig(id: \(id), name: \(name), task: \(task), role: \(role.rawValue), "
            + "peers: [\(peers.joined(separator: ","))], secret: <redacted>, "
            + "intervalMs: \(intervalMs), channel: \(channel)"
            + (network.map { ", address: \($0.addressText), mac: \($0.mac)" } ?? "") + ")"
    }

    // MARK: - Field rules (shared by init and parse)

    static func check(uuid: String, line: Int?) throws {
        let groups = uuid.split(separator: "-", omittingEmptySubsequences: false)
        let ok = groups.map(\.utf8.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.utf8.allSatisfy { Hex.value(of: $0) != nil } }
        guard ok else {
            throw AgentConfigError(.invalidValue, line: line, key: "id",
                                   "expected a UUID like 0f8e2a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b")
        }
    }

    /// Whether `name` may name a CVM, a task or a peer: 1-64 of A-Z a-z 0-9 . _ -
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy(isNameByte)
    }

    static func check(name: String, key: String, line: Int?) throws {
        guard isValidName(name) else {
            throw AgentConfigError(.invalidValue, line: line, key: key,
                                   "expected 1-64 characters of A-Z a-z 0-9 . _ -")
        }
    }

    static func check(channel: String, line: Int?) throws {
        let ok = (1...127).contains(channel.utf8.count)
            && channel.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "/") }
        guard ok else {
            throw AgentConfigError(.invalidValue, line: line, key: "channel",
                                   "expected 1-127 printable characters without spaces or '/'")
        }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
