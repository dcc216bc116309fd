import Foundation
import GRDB

/// The async API: every operation of the synchronous API under the same name, through
/// GRDB's async `read`/`write`, so async code waits for SQLite (a busy database waits up to
/// 10 s) without holding a thread of the cooperative pool. Swift picks these in async
/// contexts.
///
/// Like GRDB's, these honour task cancellation: in a cancelled task they throw
/// `CancellationError` without touching the database, and a cancellation that arrives during
/// an access interrupts it (a write's transaction is rolled back). Store work that must
/// happen in a cancelled task anyway — a rollback's, a shutdown's, the bookkeeping after a
/// point of no return — runs inside `withoutCancellation { }`.
extension Store {
    // MARK: CVMs

    public func cvms() async throws -> [CVMRecord] {
        try await db.read { try CVMRecord.order(Column("name")).fetchAll($0) }
    }

    public func cvm(named name: String) async throws -> CVMRecord? {
        try await db.read { try CVMRecord.filter(Column("name") == name).fetchOne($0) }
    }

    public func cvm(id: String) async throws -> CVMRecord? {
        try await db.read { try CVMRecord.fetchOne($0, key: id) }
    }

    /// Inserts a new CVM; fails with `nameTaken` when the name exists.
    public func insert(_ cvm: CVMRecord) async throws {
        try await sayingDiskFull { try await db.write { try Transactions.insert(cvm, $0) } }
    }

    public func save(_ cvm: CVMRecord) async throws {
        try await db.write { try cvm.save($0) }
    }

    /// Applies `change` to the CVM's current row inside one write transaction.
    @discardableResult
    public func update(cvmID: String, _ change: @Sendable (inout CVMRecord) -> Void) async throws -> CVMRecord? {
        try await sayingDiskFull { try await db.write { try Transactions.update(cvmID: cvmID, change, $0) } }
    }

    public func deleteCVM(id: String) async throws {
        _ = try await sayingDiskFull { try await db.write { try Transactions.deleteCVM(id: id, $0) } }
    }

    /// Runs a write; SQLite's "database or disk is full" becomes the operator's
    /// ``OrchestratorError/noSpace(path:shortMiB:)`` naming the store's file.
    func sayingDiskFull<T>(_ write: () async throws -> T) async throws -> T {
        do {
            return try await write()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw OrchestratorError.noSpace(path: (directory as NSString).appendingPathComponent("state.sqlite"), shortMiB: nil)
        }
    }

    // MARK: Elastic mode

    /// When each task last had a cooldown-starting action (epoch seconds).
    public func elasticCooldowns() async throws -> [String: Double] {
        try await db.read { try Transactions.elasticCooldowns($0) }
    }

    /// Replaces the recorded cooldowns with `cooldowns`.
    public func saveElasticCooldowns(_ cooldowns: [String: Double]) async throws {
        try await db.write { try Transactions.saveElasticCooldowns(cooldowns, $0) }
    }

    // MARK: Clusters

    public func clusters() async throws -> [ClusterRecord] {
        try await db.read { try ClusterRecord.order(Column("name")).fetchAll($0) }
    }

    public func cluster(named name: String) async throws -> ClusterRecord? {
        try await db.read { try ClusterRecord.fetchOne($0, key: name) }
    }

    /// Inserts a new cluster; `nameTaken` when one of that name exists.
    public func insert(_ cluster: ClusterRecord) async throws {
        try await db.write { try Transactions.insert(cluster, $0) }
    }

    /// Takes the next member ordinal of a cluster (atomically, so two healers never pick one name).
    public func takeOrdinal(cluster name: String) async throws -> Int? {
        try await db.write { try Transactions.takeOrdinal(cluster: name, $0) }
    }

    /// Makes `pid` the cluster's owner unless another live process owns it. Returns the
    /// owner that holds it otherwise (nil: claimed, or no such cluster — check first).
    /// `isAlive` runs inside the write transaction.
    public func claimCluster(named name: String, pid: Int32, isAlive: @Sendable (Int32, Int64?) -> Bool) async throws -> Int32? {
        try await db.write { try Transactions.claimCluster(named: name, pid: pid, isAlive: isAlive, $0) }
    }

    /// Gives up ownership (only if `pid` holds it).
    public func releaseCluster(named name: String, pid: Int32) async throws {
        try await db.write { try Transactions.releaseCluster(named: name, pid: pid, $0) }
    }

    /// In one transaction: when no running member of the cluster is its master, makes the
    /// running servant that heartbeated last the master (ties: the first by name) and every
    /// other member a servant. Returns the promoted member, nil when nothing changed.
    public func promoteServant(inCluster name: String) async throws -> CVMRecord? {
        try await db.write { try Transactions.promoteServant(inCluster: name, $0) }
    }

    public func deleteCluster(named name: String) async throws {
        _ = try await db.write { try ClusterRecord.deleteOne($0, key: name) }
    }

    /// The CVMs that belong to a cluster, by name.
    public func members(ofCluster name: String) async throws -> [CVMRecord] {
        try await db.read { try CVMRecord.filter(Column("cluster") == name).order(Column("name")).fetchAll($0) }
    }

    // MARK: Hosts

    public func hosts() async throws -> [HostRecord] {
        try await db.read { try HostRecord.order(Column("name")).fetchAll($0) }
    }

    public func host(named name: String) async throws -> HostRecord? {
        try await db.read { try HostRecord.fetchOne($0, key: name) }
    }

    public func save(_ host: HostRecord) async throws {
        try await db.write { try host.save($0) }
    }

    public func deleteHost(named name: String) async throws {
        _ = try await db.write { try HostRecord.deleteOne($0, key: name) }
    }

    // MARK: Events

    @discardableResult
    public func record(_ event: EventRecord) async throws -> EventRecord {
        try await db.write { try Transactions.insert(event, $0) }
    }

    public func events(after id: Int64 = 0, limit: Int = 1000) async throws -> [EventRecord] {
        try await db.read {
            try EventRecord.filter(Column("id") > id).order(Column("id")).limit(limit).fetchAll($0)
        }
    }

    /// How many events of each kind starting with `prefix` the journal holds.
    public func eventCounts(kindPrefix prefix: String) async throws -> [String: Int] {
        try await db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT kind, COUNT(*) AS n FROM event WHERE substr(kind, 1, ?) = ? GROUP BY kind",
                                        arguments: [prefix.count, prefix])
            return Dictionary(rows.map { (($0["kind"] as String?) ?? "", ($0["n"] as Int?) ?? 0) }, uniquingKeysWith: +)
        }
    }

    // MARK: Monitor liveness

    public func monitorTick(pid: Int32, startedAt: Date, now: Date = Date()) async throws {
        try await db.write { try MonitorRecord(pid: pid, startedAt: startedAt, tickAt: now).save($0) }
    }

    public func monitor() async throws -> MonitorRecord? {
        try await db.read { try MonitorRecord.fetchOne($0, key: 1) }
    }

    public func clearMonitor(pid: Int32) async throws {
        _ = try await db.write { try MonitorRecord.filter(Column("pid") == pid).deleteAll($0) }
    }

    // MARK: Placements (`cvmctl explain`)

    @discardableResult
    public func record(_ placement: PlacementRecord) async throws -> PlacementRecord {
        try await db.write { try Transactions.insert(placement, $0) }
    }

    /// Every placement recorded for the CVM named `cvm`, oldest first.
    public func placements(of cvm: String) async throws -> [PlacementRecord] {
        try await db.read { try PlacementRecord.filter(Column("cvm") == cvm).order(Column("id")).fetchAll($0) }
    }

    /// Forgets one placement (its deploy or migration did not happen after all).
    public func deletePlacement(id: Int64) async throws {
        _ = try await db.write { try PlacementRecord.deleteOne($0, key: id) }
    }

    // MARK: The policy in force

    /// The policy commit in force, or nil when none was ever applied.
    public func appliedPolicy() async throws -> AppliedPolicy? {
        try await db.read { try Transactions.appliedPolicy($0) }
    }

    /// Records `policy` as the commit in force. Call only with a commit that validated.
    public func recordAppliedPolicy(_ policy: AppliedPolicy) async throws {
        let text = try AppliedPolicy.encoded(policy)
        try await db.write { try Transactions.recordAppliedPolicy(text, $0) }
    }
}

// MARK: Host reachability and migrations in flight

extension Store {
    /// What the monitor last recorded about every host's reachability.
    public func hostLinks() async throws -> [String: HostLinkRecord] {
        let rows = try await db.read { try HostLinkRecord.fetchAll($0) }
        return Dictionary(rows.map { ($0.host, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func hostLink(named host: String) async throws -> HostLinkRecord? {
        try await db.read { try HostLinkRecord.fetchOne($0, key: host) }
    }

    public func save(_ link: HostLinkRecord) async throws {
        try await db.write { try link.save($0) }
    }

    public func intents() async throws -> [MigrationIntent] {
        try await db.read { try MigrationIntent.fetchAll($0) }
    }

    public func save(_ intent: MigrationIntent) async throws {
        try await db.write { try intent.save($0) }
    }

    public func deleteIntent(cvmID: String) async throws {
        _ = try await db.write { try MigrationIntent.deleteOne($0, key: cvmID) }
    }
}
