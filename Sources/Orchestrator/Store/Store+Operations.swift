import Foundation
import GRDB

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
        do {
            try db.write { try cvm.insert($0) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw OrchestratorError.nameTaken(cvm.name)
        }
    }

    public func save(_ cvm: CVMRecord) throws {
        try db.write { try cvm.save($0) }
    }

    /// Applies `change` to the CVM's current row inside one write transaction.
    @discardableResult
    public func update(cvmID: String, _ change: @Sendable (inout CVMRecord) -> Void) throws -> CVMRecord? {
        try db.write { db in
            guard var record = try CVMRecord.fetchOne(db, key: cvmID) else { return nil }
            change(&record)
            try record.update(db)
            return record
        }
    }

    public func deleteCVM(id: String) throws {
        _ = try db.write { try CVMRecord.deleteOne($0, key: id) }
    }

    // MARK: Elastic mode

    /// When each task last had a cooldown-starting action (epoch seconds).
    public func elasticCooldowns() throws -> [String: Double] {
        try db.read { db in
            var cooldowns: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT task, at FROM elasticCooldown") { cooldowns[row["task"]] = row["at"] }
            return cooldowns
        }
    }

    /// Replaces the recorded cooldowns with `cooldowns`.
    public func saveElasticCooldowns(_ cooldowns: [String: Double]) throws {
        try db.write { db in
            try db.execute(sql: "DELETE FROM elasticCooldown")
            for (task, at) in cooldowns {
                try db.execute(sql: "INSERT INTO elasticCooldown (task, at) VALUES (?, ?)", arguments: [task, at])
            }
        }
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
        do {
            try db.write { try cluster.insert($0) }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw OrchestratorError.nameTaken(cluster.name)
        }
    }

    /// Takes the next member ordinal of a cluster (atomically, so two healers never pick one name).
    public func takeOrdinal(cluster name: String) throws -> Int? {
        try db.write { db in
            guard var cluster = try ClusterRecord.fetchOne(db, key: name) else { return nil }
            let ordinal = cluster.nextOrdinal
            cluster.nextOrdinal += 1
            try cluster.update(db)
            return ordinal
        }
    }

    /// Makes `pid` the cluster's owner unless another live process owns it. Returns the
    /// owner that holds it otherwise (nil: claimed, or no such cluster — check first).
    public func claimCluster(named name: String, pid: Int32, isAlive: (Int32) -> Bool) throws -> Int32? {
        try db.write { db in
            guard var cluster = try ClusterRecord.fetchOne(db, key: name) else { return nil }
            if let owner = cluster.ownerPid, owner != pid, isAlive(owner) { return owner }
            cluster.ownerPid = pid
            try cluster.update(db)
            return nil
        }
    }

    /// Gives up ownership (only if `pid` holds it).
    public func releaseCluster(named name: String, pid: Int32) throws {
        try db.write { db in
            guard var cluster = try ClusterRecord.fetchOne(db, key: name), cluster.ownerPid == pid else { return }
            cluster.ownerPid = nil
            try cluster.update(db)
        }
    }

    /// In one transaction: when no running member of the cluster is its master, makes the
    /// running servant that heartbeated last the master (ties: the first by name) and every
    /// other member a servant. Returns the promoted member, nil when nothing changed.
    public func promoteServant(inCluster name: String) throws -> CVMRecord? {
        try db.write { db in
            let members = try CVMRecord.filter(Column("cluster") == name).fetchAll(db)
            guard !members.contains(where: { $0.role == "master" && $0.state == .running }) else { return nil }
            let candidates = members.filter { $0.state == .running && $0.role == "servant" }
            guard var chosen = candidates.max(by: {
                ($0.lastHeartbeatAt ?? .distantPast, $1.name) < ($1.lastHeartbeatAt ?? .distantPast, $0.name)
            }) else { return nil }
            for var lost in members where lost.role == "master" {
                lost.role = "servant"
                try lost.update(db)
            }
            chosen.role = "master"
            try chosen.update(db)
            return chosen
        }
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
        try db.write { db in
            var e = event
            try e.insert(db)
            return e
        }
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
