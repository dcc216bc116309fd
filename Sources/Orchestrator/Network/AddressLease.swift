import CVMProtocol
import Foundation
import GRDB

/// A CVM's address and MAC on the CVM segment, leased from the configured subnet by the
/// store: the address is the primary key and the CVM is unique, so two CVMs never share one,
/// even across concurrent `cvmctl` processes. Released when the CVM's row goes.
public struct AddressLease: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "addressLease"
    public var address: String
    public var cvmID: String
    public var mac: String
    public var leasedAt: Date
}

extension Store {
    /// The lowest free CVM address of `subnet` for `cvmID` (its existing lease if it has one
    /// in that subnet), in one write transaction.
    public func leaseAddress(cvmID: String, in subnet: IPv4Subnet) throws -> AddressLease {
        try db.write { db in try Self.lease(cvmID: cvmID, in: subnet, db) }
    }

    /// The lease transaction shared by both APIs.
    static func lease(cvmID: String, in subnet: IPv4Subnet, _ db: Database) throws -> AddressLease {
        if let held = try AddressLease.filter(Column("cvmID") == cvmID).fetchOne(db) {
            if let value = IPv4Subnet.parseAddress(held.address), subnet.contains(value) { return held }
            try held.delete(db)
        }
        let taken = Set(try AddressLease.fetchAll(db).compactMap { IPv4Subnet.parseAddress($0.address) })
        for candidate in subnet.cvmAddresses where !taken.contains(candidate) {
            let lease = AddressLease(address: IPv4Subnet.format(candidate), cvmID: cvmID,
                                     mac: IPv4Subnet.mac(for: candidate), leasedAt: Date())
            try lease.insert(db)
            return lease
        }
        throw OrchestratorError.invalidArgument(
            "the CVM subnet \(subnet) is full (\(subnet.cvmAddresses.count) addresses, all leased); "
            + "decommission CVMs or configure a larger cvmSubnet")
    }

    public func addressLease(cvmID: String) throws -> AddressLease? {
        try db.read { try AddressLease.filter(Column("cvmID") == cvmID).fetchOne($0) }
    }

    public func addressLeases() throws -> [AddressLease] {
        try db.read { try AddressLease.fetchAll($0) }
    }

    /// Gives the address back; safe to repeat.
    public func releaseAddress(cvmID: String) throws {
        _ = try db.write { try AddressLease.filter(Column("cvmID") == cvmID).deleteAll($0) }
    }
}

/// The async API of leases (see `Store+Async`): the same operations through GRDB's async
/// `read`/`write`, so deploys, migrations, status and the traffic manager's CVM watcher wait
/// for SQLite without holding a thread of the cooperative pool. Swift picks these in async
/// contexts.
extension Store {
    public func leaseAddress(cvmID: String, in subnet: IPv4Subnet) async throws -> AddressLease {
        try await db.write { db in try Self.lease(cvmID: cvmID, in: subnet, db) }
    }

    public func addressLease(cvmID: String) async throws -> AddressLease? {
        try await db.read { try AddressLease.filter(Column("cvmID") == cvmID).fetchOne($0) }
    }

    public func addressLeases() async throws -> [AddressLease] {
        try await db.read { try AddressLease.fetchAll($0) }
    }

    public func releaseAddress(cvmID: String) async throws {
        _ = try await db.write { try AddressLease.filter(Column("cvmID") == cvmID).deleteAll($0) }
    }
}
