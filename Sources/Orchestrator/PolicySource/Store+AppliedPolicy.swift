import Foundation
import GRDB

/// The policy commit in force: the last valid commit that `cvmctl policy apply` applied or
/// elastic mode adopted. A refused commit never replaces it.
public struct AppliedPolicy: Codable, Sendable, Hashable {
    public var commit: String
    public var ref: String
    /// The repository's top-level directory.
    public var repository: String
    public var appliedAt: Date
    /// `apply` or `elastic`.
    public var appliedBy: String

    public init(commit: String, ref: String, repository: String, appliedAt: Date = Date(), appliedBy: String) {
        self.commit = commit
        self.ref = ref
        self.repository = repository
        self.appliedAt = appliedAt
        self.appliedBy = appliedBy
    }
}

extension Store {
    /// Kept in the `meta` table (key `policy.applied`, JSON), which every store has.
    static let appliedPolicyKey = "policy.applied"

    /// The policy commit in force, or nil when none was ever applied.
    public func appliedPolicy() throws -> AppliedPolicy? {
        try db.read(Transactions.appliedPolicy)
    }

    /// Records `policy` as the commit in force. Call only with a commit that validated.
    public func recordAppliedPolicy(_ policy: AppliedPolicy) throws {
        let text = try AppliedPolicy.encoded(policy)
        try db.write { try Transactions.recordAppliedPolicy(text, $0) }
    }
}

extension AppliedPolicy {
    /// The JSON kept in the store.
    static func encoded(_ policy: AppliedPolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }
}

extension Store.Transactions {
    /// nil when none was recorded or the recorded JSON does not decode.
    static func appliedPolicy(_ db: Database) throws -> AppliedPolicy? {
        guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Store.appliedPolicyKey])
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(AppliedPolicy.self, from: Data(text.utf8))
    }

    static func recordAppliedPolicy(_ json: String, _ db: Database) throws {
        try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [Store.appliedPolicyKey, json])
    }
}
