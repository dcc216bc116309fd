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
        guard let text = try db.read({ try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Self.appliedPolicyKey]) })
        else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(AppliedPolicy.self, from: Data(text.utf8))
    }

    /// Records `policy` as the commit in force. Call only with a commit that validated.
    public func recordAppliedPolicy(_ policy: AppliedPolicy) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(policy), as: UTF8.self)
        try db.write {
            try $0.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [Self.appliedPolicyKey, text])
        }
    }
}
