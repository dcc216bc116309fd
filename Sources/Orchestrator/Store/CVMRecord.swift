import CVMProtocol
import Foundation
import GRDB

/// One CVM as the orchestrator knows it.
public struct CVMRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "cvm"

    /// Where a CVM is in its life. Transitional states (`deploying`, `stopping`,
    /// `migrating`) are written before the work starts, so a crash leaves a trace.
    public enum State: String, Codable, Sendable, CaseIterable {
        case deploying, running, failed, stopping, migrating
        /// Heartbeats stopped while the host's libvirtd cannot be reached: not confirmed
        /// failed, so nothing acts on it (no promotion, no replacement) until the host is
        /// declared lost or answers again.
        case unknown
        /// Replaced while its host was unreachable: no longer a member of anything; the
        /// monitor destroys its domain and volumes when the host answers again, then
        /// forgets it.
        case fencing

        /// Confirmed failed or on its way out: heal and elastic mode may replace it.
        public var isGone: Bool { self == .failed || self == .fencing }
    }

    public var id: String
    public var name: String
    public var image: String
    public var imageVersion: String
    public var task: String
    public var role: AgentConfig.Role
    public var cluster: String?
    public var host: String
    public var domainName: String
    public var state: State
    /// 32 random bytes, hex. Authenticates heartbeats; never logged or printed.
    public var secret: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var diskMiB: Int
    public var intervalMs: Int
    public var virtType: String
    /// The process carrying out a transitional state (to tell a live operation from a crashed one).
    public var ownerPid: Int32?
    /// The owner's start time (`/proc/PID/stat`), so a reused pid is not taken for it.
    public var ownerStart: Int64? = nil
    public var createdAt: Date
    public var startedAt: Date?
    public var deployMs: Int?
    public var lastHeartbeatAt: Date?
    public var bootNonce: String?
    public var lastSeq: Int64?
    public var agentStatus: String?
    public var cpuPercent: Double?
    public var memUsedKiB: Int64?
    public var memTotalKiB: Int64?
    public var diskReadBytes: Int64?
    public var diskWriteBytes: Int64?
    public var netRxBytes: Int64?
    public var netTxBytes: Int64?
    public var connections: Int64?
    public var failure: String?
    public var policyCommit: String?
    public var lastMigrationPauseMs: Int?
    public var lastMigrationTotalMs: Int?
    /// The role the agent reported in its last heartbeat (it differs from `role` until a
    /// promotion or a membership change has reached the agent).
    public var agentRole: AgentConfig.Role? = nil
    /// From the last heartbeat of a CVM running a data plane (image cvm-tms): whether it
    /// serves, and its totals (bounded like every guest figure). Nil for other CVMs.
    public var serving: Bool? = nil
    public var servedActive: Int64? = nil
    public var servedOpened: Int64? = nil
    public var servedBytes: Int64? = nil
    public var servedSpills: Int64? = nil
    /// The digest of the configuration the data plane runs (``ServiceReport/configDigest(of:)``,
    /// its bits as a signed integer): what lets several traffic managers see that a CVM already
    /// runs what each would send it.
    public var servedConfig: Int64? = nil
}

/// A cluster: several CVMs of one task, one master and servants, each knowing every member
/// (its members are the CVMs whose `cluster` is its name).
public struct ClusterRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "cluster"

    public var name: String
    public var image: String
    public var task: String
    /// How many members it should have.
    public var size: Int
    /// The hosts its members may be placed on (spread over them); a JSON array in the store.
    public var hosts: [String]
    /// Member names are `NAME-<ordinal>`: the next replacement takes this ordinal.
    public var nextOrdinal: Int
    public var createdAt: Date
    /// The process creating, healing or deleting the cluster (one at a time), if any.
    public var ownerPid: Int32? = nil
    /// The owner's start time (`/proc/PID/stat`), so a reused pid is not taken for it.
    public var ownerStart: Int64? = nil

    public init(name: String, image: String, task: String, size: Int, hosts: [String], nextOrdinal: Int,
                createdAt: Date, ownerPid: Int32? = nil, ownerStart: Int64? = nil) {
        self.ownerStart = ownerStart
        self.name = name
        self.image = image
        self.task = task
        self.size = size
        self.hosts = hosts
        self.nextOrdinal = nextOrdinal
        self.createdAt = createdAt
        self.ownerPid = ownerPid
    }

    public var hostList: [String] { hosts }
}

/// A hypervisor host: the local one or a remote one reached over SSH.
public struct HostRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "host"

    public enum Trust: String, Codable, Sendable, CaseIterable { case local, `private`, `public` }

    public var name: String
    public var uri: String
    public var address: String?
    public var user: String?
    public var identity: String?
    /// Pinned host key, `TYPE BASE64`.
    public var hostKey: String?
    public var zone: String
    public var latitude: Double
    public var longitude: Double
    public var trust: Trust
    public var cpus: Int
    public var memoryMiB: Int
    public var costPerHour: Double
    public var latencyMs: Double?
    /// Where images and volumes live on that host.
    public var dataDir: String
    /// Domain types the operator allows on this host (`qemu`, `kvm`); a JSON array in the store.
    public var hypervisors: [String]
    public var addedAt: Date

    public var isLocal: Bool { address == nil }
    public var hypervisorKinds: [String] { hypervisors }
}

/// Which journal events a reader wants: a kind prefix (`deploy` matches `deploy.started`),
/// one CVM, events from a time on. What the API's list and stream and `cvmctl logs` apply.
public struct EventFilter: Sendable, Equatable {
    public var kind: String?
    public var cvm: String?
    public var since: Date?

    public init(kind: String? = nil, cvm: String? = nil, since: Date? = nil) {
        self.kind = kind
        self.cvm = cvm
        self.since = since
    }

    public func matches(_ event: EventRecord) -> Bool {
        (kind.map { event.kind.hasPrefix($0) } ?? true) && (cvm.map { event.cvm == $0 } ?? true) && (since.map { event.at >= $0 } ?? true)
    }
}

/// One line of the orchestrator's journal: every decision and action with its reason.
public struct EventRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "event"
    public var id: Int64?
    public var at: Date
    public var kind: String
    public var cvm: String?
    public var host: String?
    public var message: String
    public var policyCommit: String?

    public init(at: Date = Date(), kind: String, cvm: String? = nil, host: String? = nil,
                message: String, policyCommit: String? = nil) {
        self.at = at
        self.kind = kind
        self.cvm = cvm
        self.host = host
        self.message = message
        self.policyCommit = policyCommit
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What the heartbeat monitor last knew of a host's libvirtd: unreachable since when, and
/// declared lost (unreachable for longer than the loss timeout) when. No row, or one with
/// neither date, means it answers.
public struct HostLinkRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "hostLink"
    public var host: String
    public var unreachableSince: Date?
    public var lostAt: Date?
    public var reason: String?
    public var checkedAt: Date

    public var isLost: Bool { lostAt != nil }
    public var isUnreachable: Bool { unreachableSince != nil }
}

/// A live migration in flight, written before the job starts and removed when the store
/// has the outcome: a `migrate` killed in between leaves it, and the next command or the
/// monitor finds where the domain really runs.
public struct MigrationIntent: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "migrationIntent"
    public var cvmID: String
    public var name: String
    public var source: String
    public var destination: String
    public var startedAt: Date
    public var ownerPid: Int32?
    public var ownerStart: Int64?
}

/// The heartbeat monitor's own liveness, so `status` can say whether anyone is watching.
public struct MonitorRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "monitor"
    public var id: Int = 1
    public var pid: Int32
    public var startedAt: Date
    public var tickAt: Date
}
