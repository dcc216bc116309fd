import CVMProtocol
import Foundation
import GRDB

/// The synchronous API, for synchronous code. Async code gets the overloads of the same
/// names in `Store+Async.swift`. Work of more than one statement lives in the
/// `Store.Transactions` functions both share, so the two APIs cannot drift apart.
extension Store {
    // MARK: CVMs

    public func cvms() throws -> [CVMRecord] {
        try db.read { try CVMRecord.order(Column("name")).fetchAll($0) }
    }

    public func cvm(named name: String) throws -> CVMRecord? {
        try db.read { try CVMRecord.filter(Column("name") == name).fetchOne($0) }
    }

    public func cvm(id: String) throws -> CVMRecord? {
        try db.read { try CVMRecord.fetchOne($0, key: id) }
    }

    /// Inserts a new CVM; fails with `nameTaken` when the name exists (the UNIQUE
    /// constraint makes this atomic across concurrent `cvmctl` processes).
    public func insert(_ cvm: CVMRecord) throws {
        try db.write { try Transactions.insert(cvm, $0) }
    }

    public func save(_ cvm: CVMRecord) throws {
        try db.write { try cvm.save($0) }
    }

    /// Applies `change` to the CVM's current row inside one write transaction.
    @discardableResult
    public func update(cvmID: String, _ change: @Sendable (inout CVMRecord) -> Void) throws -> CVMRecord? {
        try db.write { try Transactions.update(cvmID: cvmID, change, $0) }
    }

    public func deleteCVM(id: String) throws {
        try db.write { try Transactions.deleteCVM(id: id, $0) }
    }

    // MARK: Elastic mode

    /// When each task last had a cooldown-starting action (epoch seconds).
    public func elasticCooldowns() throws -> [String: Double] {
        try db.read(Transactions.elasticCooldowns)
    }

    /// Replaces the recorded cooldowns with `cooldowns`.
    public func saveElasticCooldowns(_ cooldowns: [String: Double]) throws {
        try db.write { try Transactions.saveElasticCooldowns(cooldowns, $0) }
    }

    // MARK: Clusters

    public func clusters() throws -> [ClusterRecord] {
        try db.read { try ClusterRecord.order(Column("name")).fetchAll($0) }
    }

    public func cluster(named name: String) throws -> ClusterRecord? {
        try db.read { try ClusterRecord.fetchOne($0, key: name) }
    }

    /// Inserts a new cluster; `nameTaken` when one of that name exists.
    public func insert(_ cluster: ClusterRecord) throws {
        try db.write { try Transactions.insert(cluster, $0) }
    }

    /// Takes the next member ordinal of a cluster (atomically, so two healers never pick one name).
    public func takeOrdinal(cluster name: String) throws -> Int? {
        try db.write { try Transactions.takeOrdinal(cluster: name, $0) }
    }

    /// Makes `pid` the cluster's owner unless another live process owns it. Returns the
    /// owner that holds it otherwise (nil: claimed, or no such cluster — check first).
    public func claimCluster(named name: String, pid: Int32, isAlive: (Int32, Int64?) -> Bool) throws -> Int32? {
        try db.write { try Transactions.claimCluster(named: name, pid: pid, isAlive: isAlive, $0) }
    }

    /// Gives up ownership (only if `pid` holds it).
    public func releaseCluster(named name: String, pid: Int32) throws {
        try db.write { try Transactions.releaseCluster(named: name, pid: pid, $0) }
    }

    /// In one transaction: when no running member of the cluster is its master, makes the
    /// running servant that heartbeated last the master (ties: the first by name) and every
    /// other member a servant. Returns the promoted member, nil when nothing changed.
    public func promoteServant(inCluster name: String) throws -> CVMRecord? {
        try db.write { try Transactions.promoteServant(inCluster: name, $0) }
    }

    public func deleteCluster(named name: String) throws {
        _ = try db.write { try ClusterRecord.deleteOne($0, key: name) }
    }

    /// The CVMs that belong to a cluster, by name.
    public func members(ofCluster name: String) throws -> [CVMRecord] {
        try db.read { try CVMRecord.filter(Column("cluster") == name).order(Column("name")).fetchAll($0) }
    }

    // MARK: Hosts

    public func hosts() throws -> [HostRecord] {
        try db.read { try HostRecord.order(Column("name")).fetchAll($0) }
    }

    public func host(named name: String) throws -> HostRecord? {
        try db.read { try HostRecord.fetchOne($0, key: name) }
    }

    public func save(_ host: HostRecord) throws {
        try db.write { try host.save($0) }
    }

    public func deleteHost(named name: String) throws {
        _ = try db.write { try HostRecord.deleteOne($0, key: name) }
    }

    // MARK: Events

    @discardableResult
    public func record(_ event: EventRecord) throws -> EventRecord {
        try db.write { try Transactions.insert(event, $0) }
    }

    public func events(after id: Int64 = 0, limit: Int = 1000) throws -> [EventRecord] {
        try db.read {
            try EventRecord.filter(Column("id") > id).order(Column("id")).limit(limit).fetchAll($0)
        }
    }

    // MARK: Monitor liveness

    public func monitorTick(pid: Int32, startedAt: Date, now: Date = Date()) throws {
        try db.write { try MonitorRecord(pid: pid, startedAt: startedAt, tickAt: now).save($0) }
    }

    public func monitor() throws -> MonitorRecord? {
        try db.read { try MonitorRecord.fetchOne($0, key: 1) }
    }

    public func clearMonitor(pid: Int32) throws {
        _ = try db.write { try MonitorRecord.filter(Column("pid") == pid).deleteAll($0) }
    }
}

extension Store {
    /// The database work of the operations that are more than one statement, shared by the
    /// synchronous and the async API. Each runs inside the caller's transaction.
    enum Transactions {
        static func insert(_ cvm: CVMRecord, _ db: Database) throws {
            do {
                try cvm.insert(db)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw OrchestratorError.nameTaken(cvm.name)
            }
        }

        /// The CVM's row and its address lease go together: an address is never leaked.
        static func deleteCVM(id: String, _ db: Database) throws {
            _ = try CVMRecord.deleteOne(db, key: id)
            _ = try AddressLease.filter(Column("cvmID") == id).deleteAll(db)
        }

        static func update(cvmID: String, _ change: (inout CVMRecord) -> Void, _ db: Database) throws -> CVMRecord? {
            guard var record = try CVMRecord.fetchOne(db, key: cvmID) else { return nil }
            change(&record)
            try record.update(db)
            return record
        }

        static func elasticCooldowns(_ db: Database) throws -> [String: Double] {
            var cooldowns: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT task, at FROM elasticCooldown") { cooldowns[row["task"]] = row["at"] }
            return cooldowns
        }

        static func saveElasticCooldowns(_ cooldowns: [String: Double], _ db: Database) throws {
            try db.execute(sql: "DELETE FROM elasticCooldown")
            for (task, at) in cooldowns {
                try db.execute(sql: "INSERT INTO elasticCooldown (task, at) VALUES (?, ?)", arguments: [task, at])
            }
        }

        static func insert(_ cluster: ClusterRecord, _ db: Database) throws {
            do {
                try cluster.insert(db)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw OrchestratorError.nameTaken(cluster.name)
            }
        }

        static func takeOrdinal(cluster name: String, _ db: Database) throws -> Int? {
            guard var cluster = try ClusterRecord.fetchOne(db, key: name) else { return nil }
            let ordinal = cluster.nextOrdinal
            cluster.nextOrdinal += 1
            try cluster.update(db)
            return ordinal
        }

        static func claimCluster(named name: String, pid: Int32, isAlive: (Int32, Int64?) -> Bool, _ db: Database) throws -> Int32? {
            guard var cluster = try ClusterRecord.fetchOne(db, key: name) else { return nil }
            if let owner = cluster.ownerPid, owner != pid, isAlive(owner, cluster.ownerStart) { return owner }
            cluster.ownerPid = pid
            cluster.ownerStart = pid == getpid() ? ProcessLiveness.currentStart : nil
            try cluster.update(db)
            return nil
        }

        static func releaseCluster(named name: String, pid: Int32, _ db: Database) throws {
            guard var cluster = try ClusterRecord.fetchOne(db, key: name), cluster.ownerPid == pid else { return }
            cluster.ownerPid = nil
            cluster.ownerStart = nil
            try cluster.update(db)
        }

        static func promoteServant(inCluster name: String, _ db: Database) throws -> CVMRecord? {
            let members = try CVMRecord.filter(Column("cluster") == name).fetchAll(db)
            // Only when every master is confirmed failed (or gone): a master that is `unknown`
            // (its host does not answer) or busy (deploying, migrating, stopping) still counts,
            // or its return would make two masters.
            guard !members.contains(where: { $0.role == .master && !$0.state.isGone }) else { return nil }
            let candidates = members.filter { $0.state == .running && $0.role == .servant }
            guard var chosen = candidates.max(by: {
                ($0.lastHeartbeatAt ?? .distantPast, $1.name) < ($1.lastHeartbeatAt ?? .distantPast, $0.name)
            }) else { return nil }
            for var lost in members where lost.role == .master {
                lost.role = .servant
                try lost.update(db)
            }
            chosen.role = .master
            try chosen.update(db)
            return chosen
        }

        static func insert(_ event: EventRecord, _ db: Database) throws -> EventRecord {
            var e = event
            try e.insert(db)
            return e
        }
    }
}
