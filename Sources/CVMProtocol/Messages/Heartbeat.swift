/// The typed view of an `HB` message: the periodic, signed "I am alive, and this is what I
/// use" report of a CVM's agent.
///
/// Wire fields (in this order): `id`, `boot` (16 hex digits), `seq`, `uptimeMs`, `status`,
/// `task`, `cpuPercent` (one decimal), `memUsedKiB`, `memTotalKiB`, `diskReadBytes`,
/// `diskWriteBytes`, `netRxBytes`, `netTxBytes`, `connections`, `badCommands`, `role` (the
/// role the agent holds now: from its configuration, or from the last `configure` command).
/// Counters (disk, net) are totals since boot; the host derives rates from two heartbeats.
public struct Heartbeat: Sendable, Equatable {
    /// Can the CVM perform its task?
    public enum Status: String, Sendable, CaseIterable {
        /// The agent runs its loop normally.
        case ok
        /// Running, but something is wrong (the agent keeps reporting).
        case degraded
        /// Shutting down (a stop command was accepted).
        case stopping
    }

    /// CVM id (UUID text), must equal the configured one.
    public var id: String
    /// Random nonce chosen once per boot of the guest.
    public var boot: UInt64
    /// Starts at 1 each boot and increases by one per heartbeat sent or dropped.
    public var seq: UInt64
    public var uptimeMs: UInt64
    public var status: Status
    /// The task the CVM runs (from its config).
    public var task: String
    /// CPU use over the last interval in percent of all vCPUs together (0...100), one decimal.
    public var cpuPercent: Double
    public var memUsedKiB: UInt64
    public var memTotalKiB: UInt64
    public var diskReadBytes: UInt64
    public var diskWriteBytes: UInt64
    public var netRxBytes: UInt64
    public var netTxBytes: UInt64
    /// Established TCP connections (IPv4 + IPv6).
    public var connections: UInt64
    /// Commands the agent rejected since boot (bad MAC, wrong id, stale seq, malformed).
    public var badCommands: UInt64
    /// The role the agent holds in its task's cluster.
    public var role: AgentConfig.Role
    /// Its data plane's report (image cvm-tms), nil when it runs none.
    public var service: ServiceReport?

    public init(
        id: String, boot: UInt64, seq: UInt64, uptimeMs: UInt64, status: Status, task: String,
        cpuPercent: Double, memUsedKiB: UInt64, memTotalKiB: UInt64,
        diskReadBytes: UInt64, diskWriteBytes: UInt64, netRxBytes: UInt64, netTxBytes: UInt64,
        connections: UInt64, badCommands: UInt64 = 0, role: AgentConfig.Role = .single,
        service: ServiceReport? = nil
    ) {
        self.service = service
        self.id = id
        self.boot = boot
        self.seq = seq
        self.uptimeMs = uptimeMs
        self.status = status
        self.task = task
        self.cpuPercent = Heartbeat.roundedToTenth(cpuPercent)
        self.memUsedKiB = memUsedKiB
        self.memTotalKiB = memTotalKiB
        self.diskReadBytes = diskReadBytes
        self.diskWriteBytes = diskWriteBytes
        self.netRxBytes = netRxBytes
        self.netTxBytes = netTxBytes
        self.connections = connections
        self.badCommands = badCommands
        self.role = role
    }

    /// Reads the typed fields of an `HB` message. Does not check the MAC.
    /// - Throws: `WireError` (`.wrongKind`, `.missingField`, `.invalidField`) naming the field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.heartbeat)
        let statusText = try message.require("status")
        guard let status = Status(rawValue: statusText) else {
            throw WireError(.invalidField, key: "status", "expected ok, degraded or stopping")
        }
        guard let cpu = Double(try message.require("cpuPercent")), cpu >= 0, cpu.isFinite else {
            throw WireError(.invalidField, key: "cpuPercent", "expected a non-negative decimal")
        }
        guard let role = AgentConfig.Role(rawValue: try message.require("role")) else {
            throw WireError(.invalidField, key: "role", "expected single, master or servant")
        }
        self.init(
            id: try message.require("id"),
            boot: try message.requireHex64("boot"),
            seq: try message.requireUInt64("seq"),
            uptimeMs: try message.requireUInt64("uptimeMs"),
            status: status,
            task: try message.require("task"),
            cpuPercent: cpu,
            memUsedKiB: try message.requireUInt64("memUsedKiB"),
            memTotalKiB: try message.requireUInt64("memTotalKiB"),
            diskReadBytes: try message.requireUInt64("diskReadBytes"),
            diskWriteBytes: try message.requireUInt64("diskWriteBytes"),
            netRxBytes: try message.requireUInt64("netRxBytes"),
            netTxBytes: try message.requireUInt64("netTxBytes"),
            connections: try message.requireUInt64("connections"),
            badCommands: try message.requireUInt64("badCommands"),
            role: role,
            service: try ServiceReport.read(message))
    }

    /// The unsigned `HB` message; sign it with `render(signedWith:)`.
    public var message: WireMessage {
        // Keys are constants that satisfy the key rule, so this cannot throw.
        try! WireMessage(kind: .heartbeat, fields: baseFields + (service?.fields ?? []))
    }

    private var baseFields: [WireMessage.Field] {
        [
            .init("id", id),
            .init("boot", WireMessage.hex64(boot)),
            .init("seq", String(seq)),
            .init("uptimeMs", String(uptimeMs)),
            .init("status", status.rawValue),
            .init("task", task),
            .init("cpuPercent", Heartbeat.formatTenths(cpuPercent)),
            .init("memUsedKiB", String(memUsedKiB)),
            .init("memTotalKiB", String(memTotalKiB)),
            .init("diskReadBytes", String(diskReadBytes)),
            .init("diskWriteBytes", String(diskWriteBytes)),
            .init("netRxBytes", String(netRxBytes)),
            .init("netTxBytes", String(netTxBytes)),
            .init("connections", String(connections)),
            .init("badCommands", String(badCommands)),
            .init("role", role.rawValue),
        ]
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }

    /// Largest CPU share kept; bigger (bogus) values are clamped so rendering cannot overflow.
    static let maxCPUPercent = 1_000_000.0

    static func roundedToTenth(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 0 }
        return (min(value, maxCPUPercent) * 10).rounded() / 10
    }

    /// `12.34` -> `"12.3"`, `7` -> `"7.0"`; negative or non-finite values render as `"0.0"`,
    /// values above `maxCPUPercent` as that maximum.
    static func formatTenths(_ value: Double) -> String {
        let tenths = UInt64(roundedToTenth(value) * 10 + 0.5)
        return "\(tenths / 10).\(tenths % 10)"
    }
}
