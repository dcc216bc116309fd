import CVMProtocol
import Foundation

/// Where a new cluster member goes: the allowed host holding the fewest members of the
/// cluster; ties go to the host listed first.
public enum ClusterSpread {
    public static func host(among hosts: [String], holding: [String: Int]) -> String {
        precondition(!hosts.isEmpty, "a cluster needs at least one host")
        var best = hosts[0]
        for host in hosts.dropFirst() where holding[host, default: 0] < holding[best, default: 0] { best = host }
        return best
    }
}

/// A cluster and its members, for `cvmctl cluster status`.
public struct ClusterReport: Sendable, Codable, Equatable {
    public var name: String
    public var image: String
    public var task: String
    public var size: Int
    public var hosts: [String]
    /// `cluster` (made by `cvmctl cluster create`, healed by heal) or `policy` (a policy
    /// task's CVMs, sized and replaced by the elastic planner).
    public var managedBy: String
    public var master: String?
    /// Running members / size; a cluster is healthy with all members running and one master.
    public var running: Int
    public var healthy: Bool
    public var members: [Member]

    public struct Member: Sendable, Codable, Equatable {
        public var name: String
        public var role: AgentConfig.Role
        /// The role the agent reported last (differs from `role` until it was told).
        public var agentRole: AgentConfig.Role?
        public var host: String
        public var state: String
        public var lastHeartbeatAgeSeconds: Double?
    }

    init(cluster: ClusterRecord, members: [CVMRecord], now: Date = Date()) {
        name = cluster.name
        image = cluster.image
        task = cluster.task
        size = cluster.size
        hosts = cluster.hostList
        managedBy = "cluster"
        master = members.first { $0.role == .master && $0.state == .running }?.name
        running = members.filter { $0.state == .running }.count
        healthy = running == cluster.size && master != nil && members.count == cluster.size
        self.members = Self.members(members, now: now)
    }

    /// A policy task's cluster: its size is what it has (the planner decides how many).
    init(taskCluster name: String, members: [CVMRecord], now: Date = Date()) {
        self.name = name
        image = members.first?.image ?? "-"
        task = members.first?.task ?? name
        size = members.count
        hosts = Array(Set(members.map(\.host))).sorted()
        managedBy = "policy"
        master = members.first { $0.role == .master && $0.state == .running }?.name
        running = members.filter { $0.state == .running }.count
        healthy = running == members.count && master != nil
        self.members = Self.members(members, now: now)
    }

    private static func members(_ records: [CVMRecord], now: Date) -> [Member] {
        records.map {
            Member(name: $0.name, role: $0.role, agentRole: $0.agentRole, host: $0.host, state: $0.state.rawValue,
                   lastHeartbeatAgeSeconds: $0.lastHeartbeatAt.map { now.timeIntervalSince($0) })
        }
    }
}
