import Planning
import Foundation
import GRDB

/// How a CVM's host was chosen, kept from the moment it was placed so `cvmctl explain` can
/// show it later: every candidate, why it was rejected or how it scored, and the policy
/// commit the decision followed.
public struct PlacementRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "placement"

    public var id: Int64?
    public var at: Date
    /// The CVM's name.
    public var cvm: String
    public var task: String
    /// `deploy` (a new CVM) or `migrate` (a new host for a running one).
    public var action: String
    public var host: String
    public var policyCommit: String
    /// Why the action was taken (the planner's reason).
    public var reason: String
    /// ``PlacementExplanation/render(limit:)`` of the decision.
    public var explanation: String
    /// Who placed it: `elastic` or `apply`.
    public var origin: String

    public init(at: Date = Date(), cvm: String, task: String, action: String, host: String, policyCommit: String,
                reason: String, explanation: String, origin: String) {
        self.at = at
        self.cvm = cvm
        self.task = task
        self.action = action
        self.host = host
        self.policyCommit = policyCommit
        self.reason = reason
        self.explanation = explanation
        self.origin = origin
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Store {
    @discardableResult
    public func record(_ placement: PlacementRecord) throws -> PlacementRecord {
        try db.write { try Transactions.insert(placement, $0) }
    }

    /// Every placement recorded for the CVM named `cvm`, oldest first.
    public func placements(of cvm: String) throws -> [PlacementRecord] {
        try db.read { try PlacementRecord.filter(Column("cvm") == cvm).order(Column("id")).fetchAll($0) }
    }

    /// Forgets one placement (its deploy or migration did not happen after all).
    public func deletePlacement(id: Int64) throws {
        _ = try db.write { try PlacementRecord.deleteOne($0, key: id) }
    }
}

extension Store.Transactions {
    static func insert(_ placement: PlacementRecord, _ db: Database) throws -> PlacementRecord {
        var p = placement
        try p.insert(db)
        return p
    }
}
