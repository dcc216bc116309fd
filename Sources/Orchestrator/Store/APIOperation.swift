import Foundation
import GRDB

/// A long operation started through the HTTP API (deploy, migrate, a cluster's heal, ...), as
/// the store keeps it: written when it starts, after progress lines (at most once a second) and when it ends, so
/// that a client can still read how it ended after the daemon restarted. One whose daemon died
/// while it ran is marked failed (`interrupted`) when the next daemon starts: its task died
/// with the process (what it left half-done is the monitor's and the next command's to
/// reconcile, as after a `cvmctl` killed mid-way).
public struct APIOperationRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "apiOperation"
    /// How many ended operations the store keeps (the oldest go first).
    public static let keptEnded = 1000

    public var id: String
    public var kind: String
    public var cvm: String?
    /// `running`, `succeeded`, `failed` or `cancelled`.
    public var state: String
    public var startedAt: Date
    public var endedAt: Date?
    /// The newest progress lines, a JSON array of strings.
    public var progress: String
    public var result: String?
    public var error: String?
    public var cancelRequested: Bool
    /// The daemon running it: pid and start time (``ProcessLiveness``).
    public var ownerPID: Int32
    public var ownerStart: Int64?

    public init(id: String, kind: String, cvm: String?, state: String, startedAt: Date, endedAt: Date?,
                progress: [String], result: String?, error: String?, cancelRequested: Bool) {
        ownerPID = getpid()
        ownerStart = ProcessLiveness.currentStart
        self.id = id
        self.kind = kind
        self.cvm = cvm
        self.state = state
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.progress = (try? String(decoding: JSONEncoder().encode(progress), as: UTF8.self)) ?? "[]"
        self.result = result
        self.error = error
        self.cancelRequested = cancelRequested
    }

    /// The progress lines (none when the column does not hold a JSON array of strings).
    public var progressLines: [String] {
        (try? JSONDecoder().decode([String].self, from: Data(progress.utf8))) ?? []
    }
}

extension Store {
    /// Inserts or replaces the operation's row; drops the oldest ended ones beyond
    /// ``APIOperationRecord/keptEnded`` when it ended.
    public func save(operation: APIOperationRecord) async throws {
        try await sayingDiskFull {
            try await db.write { db in
                try operation.save(db)
                guard operation.state != "running" else { return }
                try db.execute(sql: """
                    DELETE FROM apiOperation WHERE state != 'running' AND id NOT IN
                      (SELECT id FROM apiOperation WHERE state != 'running' ORDER BY startedAt DESC LIMIT ?)
                    """, arguments: [APIOperationRecord.keptEnded])
            }
        }
    }

    public func operation(id: String) async throws -> APIOperationRecord? {
        try await db.read { try APIOperationRecord.fetchOne($0, key: id) }
    }

    /// The newest `limit` operations, oldest first.
    public func operations(limit: Int = APIOperationRecord.keptEnded) async throws -> [APIOperationRecord] {
        try await db.read {
            try APIOperationRecord.order(Column("startedAt").desc, Column("id").desc).limit(limit).fetchAll($0).reversed()
        }
    }

    /// Marks as failed every operation the store has `running` whose daemon is no longer
    /// alive (a daemon starting calls it). Returns how many.
    @discardableResult
    public func interruptOrphanedOperations(now: Date = Date()) async throws -> Int {
        try await sayingDiskFull {
            try await db.write { db in
                var count = 0
                for var operation in try APIOperationRecord.filter(Column("state") == "running").fetchAll(db)
                where !ProcessLiveness.isAlive(operation.ownerPID, start: operation.ownerStart) {
                    operation.state = "failed"
                    operation.endedAt = now
                    operation.error = "interrupted: the daemon stopped while this operation ran (cvmctl status shows where things stand)"
                    try operation.update(db)
                    count += 1
                }
                return count
            }
        }
    }
}
