import CVMProtocol
import Foundation
import GRDB

/// A bearer token of the orchestrator's HTTP API (`cvmctl token create`). The store keeps its
/// SHA-256 only: the token itself is shown once, when it is made, and cannot be read back.
///
/// A token is `cvm_ID_SECRET`: `ID` (8 hex digits) names it in `token list` and `token
/// revoke`, `SECRET` is 32 random bytes in hex.
public struct APIToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "apiToken"

    /// What a token may do: `read` (GET only) or `admin` (everything).
    public enum Scope: String, Codable, Sendable, CaseIterable {
        case read, admin
    }

    public var id: String
    public var name: String
    public var scope: Scope
    /// SHA-256 of the whole token, hex.
    public var hash: String
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public var isRevoked: Bool { revokedAt != nil }

    /// The SHA-256 the store keeps of `token`, hex.
    public static func hash(of token: String) -> String {
        Hex.encode(SHA256.hash(Array(token.utf8)))
    }

    /// A new token named `name` and the secret text to hand out (`cvm_ID_SECRET`).
    public static func make(name: String, scope: Scope, now: Date = Date()) -> (token: APIToken, text: String) {
        var generator = SystemRandomNumberGenerator()
        let id = Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let secret = Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let text = "cvm_\(id)_\(secret)"
        return (APIToken(id: id, name: name, scope: scope, hash: hash(of: text), createdAt: now), text)
    }
}

extension Store {
    /// Makes a token; returns it and its text (shown once).
    public func createToken(name: String, scope: APIToken.Scope) async throws -> (token: APIToken, text: String) {
        let made = APIToken.make(name: name, scope: scope)
        try await sayingDiskFull { try await db.write { try made.token.insert($0) } }
        return made
    }

    /// Every token, revoked ones included, oldest first.
    public func tokens() async throws -> [APIToken] {
        try await db.read { try APIToken.order(Column("createdAt"), Column("id")).fetchAll($0) }
    }

    /// Revokes the token with this id; false when there is none (or it was revoked already).
    public func revokeToken(id: String) async throws -> Bool {
        try await db.write { db in
            guard var token = try APIToken.fetchOne(db, key: id), token.revokedAt == nil else { return false }
            token.revokedAt = Date()
            try token.update(db)
            return true
        }
    }

    /// The token whose text is `text`, if the store knows it and it is not revoked; notes its
    /// use (at most once a minute, to keep reads from writing).
    public func authenticate(token text: String) async throws -> APIToken? {
        guard text.utf8.count <= 256 else { return nil }
        let hash = APIToken.hash(of: text)
        guard let token = try await db.read({ try APIToken.filter(Column("hash") == hash).fetchOne($0) }), !token.isRevoked else {
            return nil
        }
        if token.lastUsedAt.map({ Date().timeIntervalSince($0) > 60 }) ?? true {
            try? await db.write { db in
                try APIToken.filter(Column("id") == token.id).updateAll(db, Column("lastUsedAt").set(to: Date()))
            }
        }
        return token
    }
}
