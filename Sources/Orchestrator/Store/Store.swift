import Foundation
import GRDB

/// The orchestrator's embedded state: one SQLite file (WAL) under the state directory,
/// shared safely by `cvmctl` invocations and the long-running monitor.
///
/// Every multi-step operation writes its intent first (a row in a transitional state such
/// as `deploying`) so that a crash leaves a record to reconcile instead of an orphan.
public final class Store: Sendable {
    public let directory: String
    let db: DatabasePool

    /// Opens (creating if needed) `directory/state.sqlite`; the directory is made 0700
    /// because the file holds per-CVM secrets.
    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Self.makePrivate(directory: directory)
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.label = "cvm.state"
        let path = (directory as NSString).appendingPathComponent("state.sqlite")
        // SQLite gives the -wal and -shm files the database file's mode: create it 0600
        // before SQLite does (with the process's umask), and fix files an older version made.
        // Only when it does not exist yet (O_EXCL): closing a descriptor of a database file
        // drops every POSIX lock this process holds on it — those of a store already open in
        // this process included — and lets other processes write under it (corruption).
        let fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            chmod(file, 0o600)
        }
        // Opening (which switches a new file to WAL) and migrating are done by one process at
        // a time: two commands started together on a new or older store otherwise both create
        // the same tables, and one fails ("table … already exists", "database is locked",
        // even "malformed"). The lock is held for milliseconds, released when the process dies.
        do {
            db = try FileLock.withExclusive(path + ".lock") {
                let pool: DatabasePool
                do {
                    pool = try DatabasePool(path: path, configuration: config)
                } catch {
                    throw StoreError.cannotOpen(path: path, reason: "\(error)")
                }
                try Self.migrator.migrate(pool)
                return pool
            }
        } catch let failure as FileLock.Failure {
            throw StoreError.cannotOpen(path: path, reason: failure.description)
        }
        storeID = try db.read { try String.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'storeID'") } ?? "unknown"
    }

    /// The state directory holds every CVM's secret: 0700 whatever the umask or the mode it
    /// had, when it is ours (owned by this user) and not a shared folder (sticky, like /tmp).
    static func makePrivate(directory: String) throws {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw StoreError.cannotOpen(path: directory, reason: "cannot read the folder's mode")
        }
        let mode = info.st_mode & 0o7777
        guard mode & 0o077 != 0 else { return }
        guard info.st_uid == getuid(), mode & 0o1000 == 0 else {
            throw StoreError.cannotOpen(path: directory, reason: "the state folder is shared (mode \(String(mode, radix: 8))) and would expose the CVMs' secrets; use a folder of its own (--state or CVM_STATE)")
        }
        guard chmod(directory, 0o700) == 0 else {
            throw StoreError.cannotOpen(path: directory, reason: "cannot make the folder private (chmod 0700)")
        }
    }

    /// A random id made when the store was created; written into every domain's metadata.
    public let storeID: String

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "host") { t in
                t.column("name", .text).primaryKey()
                t.column("uri", .text).notNull()
                t.column("address", .text)
                t.column("user", .text)
                t.column("identity", .text)
                t.column("hostKey", .text)
                t.column("zone", .text).notNull().defaults(to: "local")
                t.column("latitude", .double).notNull().defaults(to: 0)
                t.column("longitude", .double).notNull().defaults(to: 0)
                t.column("trust", .text).notNull().defaults(to: "local")
                t.column("cpus", .integer).notNull().defaults(to: 0)
                t.column("memoryMiB", .integer).notNull().defaults(to: 0)
                t.column("costPerHour", .double).notNull().defaults(to: 0)
                t.column("latencyMs", .double)
                t.column("dataDir", .text).notNull()
                t.column("hypervisors", .text).notNull().defaults(to: "qemu,kvm")
                t.column("addedAt", .datetime).notNull()
            }
            try db.create(table: "cvm") { t in
                t.column("id", .text).primaryKey()
                t.column("name", .text).notNull().unique()
                t.column("image", .text).notNull()
                t.column("imageVersion", .text).notNull()
                t.column("task", .text).notNull()
                t.column("role", .text).notNull()
                t.column("cluster", .text)
                t.column("host", .text).notNull()
                t.column("domainName", .text).notNull()
                t.column("state", .text).notNull()
                t.column("secret", .text).notNull()
                t.column("vcpus", .integer).notNull()
                t.column("memoryMiB", .integer).notNull()
                t.column("diskMiB", .integer).notNull()
                t.column("intervalMs", .integer).notNull()
                t.column("virtType", .text).notNull()
                t.column("ownerPid", .integer)
                t.column("createdAt", .datetime).notNull()
                t.column("startedAt", .datetime)
                t.column("deployMs", .integer)
                t.column("lastHeartbeatAt", .datetime)
                t.column("bootNonce", .text)
                t.column("lastSeq", .integer)
                t.column("agentStatus", .text)
                t.column("cpuPercent", .double)
                t.column("memUsedKiB", .integer)
                t.column("memTotalKiB", .integer)
                t.column("diskReadBytes", .integer)
                t.column("diskWriteBytes", .integer)
                t.column("netRxBytes", .integer)
                t.column("netTxBytes", .integer)
                t.column("connections", .integer)
                t.column("failure", .text)
                t.column("policyCommit", .text)
                t.column("lastMigrationPauseMs", .integer)
                t.column("lastMigrationTotalMs", .integer)
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("kind", .text).notNull()
                t.column("cvm", .text)
                t.column("host", .text)
                t.column("message", .text).notNull()
                t.column("policyCommit", .text)
            }
            try db.create(table: "meta") { t in
                t.column("key", .text).primaryKey()
                t.column("value", .text).notNull()
            }
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('storeID', ?)",
                           arguments: [UUID().uuidString.lowercased()])
            try db.create(table: "monitor") { t in
                t.column("id", .integer).primaryKey()
                t.column("pid", .integer).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("tickAt", .datetime).notNull()
            }
        }
        // Placement explanations, recorded when policy apply or elastic mode places a CVM
        // (`cvmctl explain`).
        m.registerMigration("v2") { db in
            try db.create(table: "placement") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("cvm", .text).notNull().indexed()
                t.column("task", .text).notNull()
                t.column("action", .text).notNull()
                t.column("host", .text).notNull()
                t.column("policyCommit", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("explanation", .text).notNull()
                t.column("origin", .text).notNull()
            }
        }
        // Clusters (SPEC §2): the cluster row, and the role each agent last reported.
        m.registerMigration("v3") { db in
            try db.create(table: "cluster") { t in
                t.column("name", .text).primaryKey()
                t.column("image", .text).notNull()
                t.column("task", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("hosts", .text).notNull()
                t.column("nextOrdinal", .integer).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("ownerPid", .integer)
            }
            try db.alter(table: "cvm") { t in t.add(column: "agentRole", .text) }
        }
        // Elastic mode's cooldowns: when each task last had a scaling action (epoch seconds).
        m.registerMigration("v4") { db in
            try db.create(table: "elasticCooldown") { t in
                t.column("task", .text).primaryKey()
                t.column("at", .double).notNull()
            }
        }
        // Lists are lists: a host's hypervisor kinds and a cluster's hosts become JSON arrays
        // (they were comma-joined text).
        m.registerMigration("v5") { db in
            func toJSON(_ text: String) -> String {
                let items = text.split(separator: ",").map { "\"" + $0.trimmingCharacters(in: .whitespaces) + "\"" }
                return "[" + items.joined(separator: ",") + "]"
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, hypervisors FROM host") {
                let name: String = row["name"], text: String = row["hypervisors"]
                guard !text.hasPrefix("[") else { continue }
                try db.execute(sql: "UPDATE host SET hypervisors = ? WHERE name = ?", arguments: [toJSON(text), name])
            }
            for row in try Row.fetchAll(db, sql: "SELECT name, hosts FROM cluster") {
                let name: String = row["name"], text: String = row["hosts"]
                guard !text.hasPrefix("[") else { continue }
                try db.execute(sql: "UPDATE cluster SET hosts = ? WHERE name = ?", arguments: [toJSON(text), name])
            }
        }
        // Owners are a pid and the process's start time: a reused pid is not the owner.
        m.registerMigration("v6") { db in
            try db.alter(table: "cvm") { t in t.add(column: "ownerStart", .integer) }
            try db.alter(table: "cluster") { t in t.add(column: "ownerStart", .integer) }
        }
        // What the heartbeat monitor knows of each host's reachability (HostLinkRecord), and
        // migrations in flight (MigrationIntent), so a killed `migrate` can be reconciled.
        m.registerMigration("v7") { db in
            try db.create(table: "hostLink") { t in
                t.column("host", .text).primaryKey()
                t.column("unreachableSince", .datetime)
                t.column("lostAt", .datetime)
                t.column("reason", .text)
                t.column("checkedAt", .datetime).notNull()
            }
            try db.create(table: "migrationIntent") { t in
                t.column("cvmID", .text).primaryKey()
                t.column("name", .text).notNull()
                t.column("source", .text).notNull()
                t.column("destination", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("ownerPid", .integer)
                t.column("ownerStart", .integer)
            }
        }
        // CVMs' addresses on the CVM segment (AddressLease): one row per address, one per CVM.
        m.registerMigration("v8") { db in
            try db.create(table: "addressLease") { t in
                t.column("address", .text).primaryKey()
                t.column("cvmID", .text).notNull().unique()
                t.column("mac", .text).notNull().unique()
                t.column("leasedAt", .datetime).notNull()
            }
        }
        // What a CVM's data plane reports (ServiceReport).
        m.registerMigration("v9") { db in
            try db.alter(table: "cvm") { t in
                t.add(column: "serving", .boolean)
                t.add(column: "servedActive", .integer)
                t.add(column: "servedOpened", .integer)
                t.add(column: "servedBytes", .integer)
                t.add(column: "servedSpills", .integer)
            }
        }
        // The digest of the configuration a data plane runs.
        m.registerMigration("v10") { db in
            try db.alter(table: "cvm") { t in t.add(column: "servedConfig", .integer) }
        }
        // The HTTP API's bearer tokens (their SHA-256 only).
        m.registerMigration("v11") { db in
            try db.create(table: "apiToken") { t in
                t.column("id", .text).primaryKey()
                t.column("name", .text).notNull()
                t.column("scope", .text).notNull()
                t.column("hash", .text).notNull().unique()
                t.column("createdAt", .datetime).notNull()
                t.column("revokedAt", .datetime)
                t.column("lastUsedAt", .datetime)
            }
        }
        // The API's long operations, kept across daemon restarts.
        m.registerMigration("v12") { db in
            try db.create(table: "apiOperation") { t in
                t.column("id", .text).primaryKey()
                t.column("kind", .text).notNull()
                t.column("cvm", .text)
                t.column("state", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("endedAt", .datetime)
                t.column("progress", .text).notNull()
                t.column("result", .text)
                t.column("error", .text)
                t.column("cancelRequested", .boolean).notNull()
                t.column("ownerPID", .integer).notNull()
                t.column("ownerStart", .integer)
            }
            try db.create(index: "apiOperationStarted", on: "apiOperation", columns: ["startedAt"])
        }
        return m
    }
}

/// Errors of the state store, worded for operators.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open the state database \(path): \(reason)"
        }
    }
}
