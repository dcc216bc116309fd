import CVMProtocol
import Foundation

/// One CVM as `cvmctl status` shows it: the store's view checked against libvirt's.
public struct CVMStatus: Sendable, Codable, Equatable {
    public var name: String
    public var id: String
    /// The orchestrator's state, or `failed` when the domain is not running or (while a
    /// monitor runs) the heartbeat is older than three intervals.
    public var state: String
    public var host: String
    public var image: String
    public var task: String
    public var role: AgentConfig.Role
    /// Its address on the CVM segment (leased by the store), nil for a CVM without a NIC.
    public var address: String?
    /// What libvirt says of the domain (`running`, `shutoff`, `missing`, ...).
    public var domainState: String
    public var uptimeSeconds: Double?
    public var lastHeartbeatAgeSeconds: Double?
    public var agentStatus: String?
    public var cpuPercent: Double?
    public var memUsedKiB: Int64?
    public var memTotalKiB: Int64?
    public var diskReadBytes: Int64?
    public var diskWriteBytes: Int64?
    public var connections: Int64?
    public var deployMs: Int?
    public var failure: String?
    public var lastMigrationPauseMs: Int?
    public var lastMigrationTotalMs: Int?
    /// A data plane's report (image cvm-tms), nil for other CVMs.
    public var serving: Bool? = nil
    public var servedActive: Int64? = nil
    public var servedOpened: Int64? = nil
    public var servedBytes: Int64? = nil
    public var servedSpills: Int64? = nil
}

/// A disagreement between the store and what libvirt really runs.
public struct Mismatch: Sendable, Codable, Equatable {
    public var host: String
    public var cvm: String?
    public var domain: String?
    public var problem: String
}

/// `cvmctl status` in one value.
public struct StatusReport: Sendable, Codable, Equatable {
    public var cvms: [CVMStatus]
    public var mismatches: [Mismatch]
    /// Whether a heartbeat monitor is running for this state directory, and its pid.
    public var monitorPid: Int32?
    public var monitorAlive: Bool
    /// Hosts that could not be asked, and why.
    public var unreachableHosts: [String]
    public var hostProblems: [String: String] = [:]
}
