import CVMProtocol
import Foundation
import GRDB
@testable import Orchestrator
import Synchronization
import Testing

@Suite struct StoreTests {
    static func record(_ name: String) -> CVMRecord {
        CVMRecord(id: UUID().uuidString.lowercased(), name: name, image: "cvm-base", imageVersion: "1", task: "t",
                  role: .single, host: "local", domainName: "cvm-\(name)", state: .deploying,
                  secret: String(repeating: "00", count: 32), vcpus: 1, memoryMiB: 128, diskMiB: 64,
                  intervalMs: 1000, virtType: "qemu", createdAt: Date())
    }

    @Test func namesAreUniqueAcrossInserts() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        try store.insert(Self.record("a"))
        #expect(throws: OrchestratorError.nameTaken("a")) { try store.insert(Self.record("a")) }
        #expect(try store.cvms().map(\.name) == ["a"])
    }

    @Test func stateSurvivesReopeningAndIsPrivate() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Store(directory: dir)
        let r = Self.record("b")
        try first.insert(r)
        try first.update(cvmID: r.id) { $0.state = .running }
        let second = try Store(directory: dir)
        #expect(second.storeID == first.storeID)
        #expect(try second.cvm(named: "b")?.state == .running)
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/state.sqlite")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    /// Commands started together on a new store (elastic mode, the monitor, a `status`) all
    /// open it: each gets the same, fully migrated store, none an error.
    @Test func storesOpenedTogetherOnANewFolderAllWork() throws {
        for _ in 0..<5 {
            let dir = try Fixtures.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let outcomes = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                let outcome: String
                do { outcome = try Store(directory: dir).storeID } catch { outcome = "error: \(error)" }
                outcomes.withLock { $0.append(outcome) }
            }
            let seen = outcomes.withLock { $0 }
            #expect(seen.count == 6 && Set(seen).count == 1 && !seen[0].hasPrefix("error"), "\(seen)")
        }
    }

    @Test func eventsAreJournaledInOrder() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        let e1 = try store.record(EventRecord(kind: "a", message: "one"))
        try store.record(EventRecord(kind: "b", message: "two", policyCommit: "abc"))
        #expect(try store.events().map(\.message) == ["one", "two"])
        #expect(try store.events(after: e1.id!).map(\.policyCommit) == ["abc"])
    }

    @Test func unopenableStoreIsAClearError() {
        #expect(throws: (any Error).self) { try Store(directory: "/proc/cvm-cannot-exist") }
    }

    @Test("a store written before lists were lists keeps its hosts' kinds and clusters' hosts")
    func commaJoinedListsMigrateToArrays() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let old = try DatabaseQueue(path: dir + "/state.sqlite")
            try Store.migrator.migrate(old, upTo: "v4")
            try old.write { db in
                try db.execute(sql: """
                    INSERT INTO host(name, uri, dataDir, hypervisors, addedAt) VALUES ('tb1', 'qemu+libssh2://x/system', '/d', 'qemu', '2026-01-01 00:00:00');
                    INSERT INTO cluster(name, image, task, size, hosts, nextOrdinal, createdAt) VALUES ('web', 'cvm-base', 't', 2, 'local,tb1', 3, '2026-01-01 00:00:00');
                    """)
            }
        }
        let store = try Store(directory: dir)
        #expect(try store.host(named: "tb1")?.hypervisors == ["qemu"])
        #expect(try store.cluster(named: "web")?.hosts == ["local", "tb1"])
        var host = try #require(try store.host(named: "tb1"))
        host.hypervisors = ["qemu", "kvm"]
        try store.save(host)
        #expect(try Store(directory: dir).host(named: "tb1")?.hypervisors == ["qemu", "kvm"])
    }

    @Test("every file of the store is 0600 and its folder 0700, whatever the umask and the folder's mode")
    func filesArePrivate() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o755)
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try Store(directory: dir)
        try store.insert(Self.record("a")) // the WAL and its index exist now
        func mode(_ path: String) throws -> Int {
            try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        }
        #expect(try mode(dir) == 0o700)
        for file in ["state.sqlite", "state.sqlite-wal", "state.sqlite-shm"] {
            #expect(try mode(dir + "/" + file) == 0o600, "\(file)")
        }
    }

    @Test("a shared folder (sticky, like /tmp) is refused as the state folder")
    func sharedFolderIsRefused() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        chmod(dir, 0o1777)
        #expect(throws: StoreError.self) { try Store(directory: dir) }
    }
}
