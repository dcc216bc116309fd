import Foundation
import Logging
import Testing
@testable import TrafficManager

/// The access log's parts without sockets: the record line, the collector's segment store on a
/// real file, the spool, and the query's operator input.
@Suite struct AccessLogTests {
    static func record(_ n: Int, vServer: String = "web", client: String = "127.0.0.1", outcome: AccessLogRecord.Outcome = .served,
                       time: UInt64 = 1_800_000_000_000) -> AccessLogRecord {
        AccessLogRecord(timeMs: time + UInt64(n), vServer: vServer, core: n % 2, client: "\(client):\(40_000 + n % 20_000)",
                        target: n % 3 == 0 ? "backup/b" : "a", bytesIn: n, bytesOut: 2 * n, durationUs: 1000 + n, outcome: outcome)
    }

    static func temporaryDisk(bytes: Int) throws -> String {
        let path = NSTemporaryDirectory() + "access-log-disk-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, off_t(bytes)) == 0)
        return path
    }

    // MARK: records

    @Test("a record's line reads back as the same record; names with tabs and newlines are escaped")
    func recordRoundTrip() throws {
        var record = Self.record(7)
        record.vServer = "web\tfront\nend%"
        record.client = "[::1]:443"
        let line = record.line
        #expect(!line.contains("\n") && line.split(separator: "\t").count == 9)
        #expect(AccessLogRecord(line: Substring(line)) == record)
        #expect(record.clientIP == "::1")
        #expect(Self.record(1).clientIP == "127.0.0.1")
        #expect(record.json.contains("\"vServer\":\"web\\tfront\\nend%\""))
    }

    @Test("a very long name is cut so the line stays within bounds, never inside an escape or a character")
    func longNamesAreCut() throws {
        var record = Self.record(1)
        record.target = String(repeating: "é%", count: 1000)
        let line = record.line
        #expect(line.utf8.count <= AccessLogRecord.maximumLength)
        let parsed = try #require(AccessLogRecord(line: Substring(line)))
        #expect(record.target.hasPrefix(parsed.target))
    }

    @Test("hostile lines are refused, never crash (random bytes and mutations of a good line)")
    func hostileLines() {
        var generator = SystemRandomNumberGenerator()
        let good = Array(Self.record(3).line.utf8)
        for round in 0..<5000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = good
                for _ in 0..<Int.random(in: 1...5, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            if let parsed = AccessLogRecord(line: Substring(decoding: bytes, as: UTF8.self)) {
                #expect(AccessLogRecord(line: Substring(parsed.line)) == parsed)
            }
        }
        #expect(AccessLogRecord(line: "1\tweb\t0\tc\t-\t1\t2\t3\tlost") == nil)
        #expect(AccessLogRecord(line: "99999999999999999999\tweb\t0\tc\t-\t1\t2\t3\tserved") == nil)
        #expect(AccessLogRecord(line: Substring(String(repeating: "1", count: 5000))) == nil)
    }

    // MARK: the segment store

    @Test("stored records survive a reopen; a resend is not stored twice; the source's last sequence is kept")
    func storeAppendReopenDedup() throws {
        let disk = try Self.temporaryDisk(bytes: 4 << 20)
        defer { unlink(disk) }
        let options = SegmentStore.Options(path: disk, offset: 4096, slotSize: 256 << 10)
        var id = ""
        do {
            let store = try SegmentStore(options)
            id = store.collectorID
            let entries = (1...3000).map { SegmentStore.Entry(source: "tm1", seq: UInt64($0), record: Self.record($0)) }
            for chunk in stride(from: 0, to: entries.count, by: 700) {
                try store.append(Array(entries[chunk..<min(entries.count, chunk + 700)]), nowMs: 1_800_000_000_000)
            }
            // A resend of the last 1000 and 10 new ones: only the new ones are stored.
            let last = try store.append(Array(entries[2000...]) + (3001...3010).map {
                SegmentStore.Entry(source: "tm1", seq: UInt64($0), record: Self.record($0)) }, nowMs: 1_800_000_000_000)
            #expect(last["tm1"] == 3010)
            #expect(store.recordCount == 3010)
        }
        let reopened = try SegmentStore(options)
        #expect(reopened.collectorID == id)
        #expect(reopened.lastSeq["tm1"] == 3010)
        let all = try reopened.query(AccessLogQuery(limit: 100_000))
        #expect(all.matched == 3010)
        #expect(all.entries.map(\.seq) == (1...3010).map(UInt64.init))
        #expect(all.entries.first?.record == Self.record(1))
        // Appends after the reopen go to a new segment and read back too.
        try reopened.append([SegmentStore.Entry(source: "tm2", seq: 1, record: Self.record(1, vServer: "api"))], nowMs: 1_800_000_000_000)
        #expect(try reopened.query(AccessLogQuery(vServer: "api")).matched == 1)
    }

    @Test("queries filter by time, vServer, client and outcome, and skip segments their index excludes")
    func storeQueries() throws {
        let disk = try Self.temporaryDisk(bytes: 8 << 20)
        defer { unlink(disk) }
        let store = try SegmentStore(.init(path: disk, slotSize: 16 << 10))
        var seq: UInt64 = 0
        func add(_ records: [AccessLogRecord]) throws {
            try store.append(records.map { seq += 1; return SegmentStore.Entry(source: "s", seq: seq, record: $0) }, nowMs: 1_800_000_000_000)
        }
        try add((0..<20_000).map { Self.record($0, vServer: "web", client: "10.0.0.\($0 % 50)") })
        try add((0..<500).map { Self.record($0, vServer: "api", client: "192.0.2.7", outcome: .spilled, time: 1_800_000_100_000) })
        #expect(store.segmentCount > 2)
        #expect(try store.query(AccessLogQuery(countOnly: true)).matched == 20_500)
        #expect(try store.query(AccessLogQuery(vServer: "api", countOnly: true)).matched == 500)
        #expect(try store.query(AccessLogQuery(client: "10.0.0.7", countOnly: true)).matched == 400)
        #expect(try store.query(AccessLogQuery(outcome: .spilled, countOnly: true)).matched == 500)
        let recent = try store.query(AccessLogQuery(sinceMs: 1_800_000_100_000, countOnly: true))
        #expect(recent.matched == 500)
        #expect(recent.segmentsRead < store.segmentCount, "the index should exclude the older segments")
        #expect(try store.query(AccessLogQuery(client: "198.51.100.1", countOnly: true)).matched == 0)
        let limited = try store.query(AccessLogQuery(vServer: "web", limit: 10))
        #expect(limited.entries.count == 10 && limited.matched == 20_000)
    }

    @Test("retention: a store at its size reuses the oldest segment; older than maxAge is dropped")
    func storeRetention() throws {
        let disk = try Self.temporaryDisk(bytes: 1 << 20)
        defer { unlink(disk) }
        let store = try SegmentStore(.init(path: disk, slotSize: 64 << 10))
        let slots = store.capacityBytes / (64 << 10)
        var seq: UInt64 = 0
        for _ in 0..<40 {
            try store.append((0..<2000).map { _ in
                seq += 1
                return SegmentStore.Entry(source: "s", seq: seq, record: Self.record(Int(seq), client: "10.\(seq % 200).\(seq % 7).1"))
            }, nowMs: 1_800_000_000_000)
        }
        #expect(store.segmentCount <= slots)
        let kept = try store.query(AccessLogQuery(limit: 100_000))
        #expect(kept.matched < Int(seq), "the ring should have dropped the oldest records")
        #expect(kept.entries.last?.seq == seq, "the newest record is kept")
        #expect(store.lastSeq["s"] == seq)

        let aging = try Self.temporaryDisk(bytes: 1 << 20)
        defer { unlink(aging) }
        let store2 = try SegmentStore(.init(path: aging, maxAge: .seconds(60), slotSize: 64 << 10))
        try store2.append([SegmentStore.Entry(source: "s", seq: 1, record: Self.record(0, time: 1_000_000))], nowMs: 1_000_000)
        try store2.append((2...40_000).map { SegmentStore.Entry(source: "s", seq: UInt64($0), record: Self.record($0, time: 1_000_000 + 120_000)) },
                          nowMs: 1_000_000 + 120_000)
        #expect(try store2.query(AccessLogQuery(untilMs: 1_000_000, countOnly: true)).matched == 0, "the old record outlived maxAge")
    }

    @Test("a disk that fills (retention allows more than it holds, nothing old enough) refuses, and takes the records once there is room")
    func storeFull() throws {
        let disk = try Self.temporaryDisk(bytes: 512 << 10)
        defer { unlink(disk) }
        let store = try SegmentStore(.init(path: disk, maxBytes: 64 << 20, maxAge: .seconds(3600), slotSize: 64 << 10))
        var seq: UInt64 = 0
        var failure: SegmentStore.Failure?
        for _ in 0..<200 where failure == nil {
            do {
                try store.append((0..<2000).map { _ in
                    seq += 1
                    return SegmentStore.Entry(source: "s", seq: seq, record: Self.record(Int(seq), client: "10.\(seq % 200).\(seq % 13).1"))
                }, nowMs: 1_800_000_000_000)
            } catch {
                failure = error
            }
        }
        guard case .full(let message) = try #require(failure) else { Issue.record("expected full, got \(String(describing: failure))"); return }
        #expect(message.contains("full"))
        let stored = store.lastSeq["s"] ?? 0
        #expect(stored < seq, "what did not fit is not acknowledged")
        #expect(try store.query(AccessLogQuery(countOnly: true)).matched == Int(stored))
    }

    @Test("a damaged or foreign disk never crashes the store: garbage is formatted, a torn header is skipped")
    func storeDamage() throws {
        let disk = try Self.temporaryDisk(bytes: 1 << 20)
        defer { unlink(disk) }
        // Garbage everywhere: formatted as a new store.
        let garbage = Data((0..<(1 << 20)).map { _ in UInt8.random(in: 0...255) })
        try garbage.write(to: URL(fileURLWithPath: disk))
        do {
            let store = try SegmentStore(.init(path: disk, slotSize: 64 << 10))
            #expect(store.segmentCount == 0)
            try store.append((1...100).map { SegmentStore.Entry(source: "s", seq: UInt64($0), record: Self.record($0)) }, nowMs: 1_800_000_000_000)
        }
        // A flipped byte in the segment's header: the segment is ignored, nothing crashes.
        let handle = try #require(FileHandle(forUpdatingAtPath: disk))
        try handle.seek(toOffset: 4096 + 10)
        try handle.write(contentsOf: Data([0x39]))
        try handle.close()
        let reopened = try SegmentStore(.init(path: disk, slotSize: 64 << 10))
        #expect(try reopened.query(AccessLogQuery(countOnly: true)).matched == 0)
        // Too small a disk: one line.
        let tiny = try Self.temporaryDisk(bytes: 8192)
        defer { unlink(tiny) }
        #expect(throws: SegmentStore.Failure.self) { try SegmentStore(.init(path: tiny)) }
        #expect(throws: SegmentStore.Failure.self) { try SegmentStore(.init(path: "/nonexistent/disk")) }
    }

    // MARK: the spool

    static func temporaryDirectory() -> String { NSTemporaryDirectory() + "spool-\(UUID().uuidString)" }

    @Test("the spool numbers records, keeps them across a restart, and remembers the acknowledgement")
    func spoolRestart() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var source = ""
        do {
            let spool = try AccessLogSpool(directory: directory, maxBytes: 1 << 20, dropOldest: false)
            source = spool.source
            spool.append((1...100).map { Self.record($0).line })
            #expect(spool.records(from: 1, limit: 5).map(\.seq) == [1, 2, 3, 4, 5])
            #expect(spool.records(from: 98, limit: 5).map(\.seq) == [98, 99, 100])
            spool.acknowledge(60)
            _ = spool.persist()
            #expect(spool.stats.unacknowledged == 40)
            let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
            #expect(mode == 0o700)
        }
        let again = try AccessLogSpool(directory: directory, maxBytes: 1 << 20, dropOldest: false)
        #expect(again.source == source)
        #expect(again.nextSeq == 101)
        #expect(again.stats.acknowledged == 60 && again.stats.unacknowledged == 40)
        #expect(again.records(from: 61, limit: 1).first?.line == Self.record(61).line)
    }

    @Test("a full spool drops the new records by default, the oldest unacknowledged ones with dropOldest; history goes first")
    func spoolBound() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = (1...400).map { Self.record($0).line }  // ~30 KB
        let spool = try AccessLogSpool(directory: directory, maxBytes: 64 << 10, dropOldest: false)
        spool.append(lines)
        spool.acknowledge(400)
        // Acknowledged history makes room.
        for _ in 0..<2 { #expect(spool.append(lines) == 0) }
        #expect(spool.stats.bytes <= 64 << 10)
        // Nothing acknowledged any more: new records are refused and counted.
        var dropped = 0
        for _ in 0..<3 { dropped += spool.append(lines) }
        #expect(dropped > 0)
        #expect(spool.stats.dropped == dropped)
        #expect(spool.persist().contains { $0.contains("spool full") })
        let oldestKept = spool.oldestRetained

        let other = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: other) }
        let dropping = try AccessLogSpool(directory: other, maxBytes: 64 << 10, dropOldest: true)
        for _ in 0..<6 { #expect(dropping.append(lines) == 0) }
        #expect(dropping.stats.dropped > 0 && dropping.oldestRetained > 1)
        #expect(dropping.records(from: dropping.nextSeq - 1, limit: 1).first?.seq == dropping.nextSeq - 1)
        #expect(oldestKept <= 401)
    }

    // MARK: operator input

    @Test("log query input: times, addresses and outcomes are checked, each bad one in one line")
    func queryInput() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try AccessLogQuery.time("15m", now: now) == 1_800_000_000_000 - 900_000)
        #expect(try AccessLogQuery.time("2026-12-03T18:00:00Z", now: now) == 1_796_320_800_000)
        for bad in ["yesterday", "15", "-5m", "1e99h", "2026-13-03T18:00:00Z", ""] {
            #expect(throws: QueryError.self) { try AccessLogQuery.time(bad, now: now) }
        }
        #expect(try AccessLogQuery.address("10.0.0.1") == "10.0.0.1")
        #expect(try AccessLogQuery.address("::1") == "::1")
        for bad in ["10.0.0.1:80", "host.example", "10.0.0.256", ""] {
            #expect(throws: QueryError.self) { try AccessLogQuery.address(bad) }
        }
        #expect(throws: QueryError.self) { try AccessLogQuery.outcome("lost") }
        let query = AccessLogQuery(sinceMs: 5, vServer: "we b", client: "::1", outcome: .timedOut, limit: 7, countOnly: true)
        #expect(try AccessLogQuery(line: Substring(query.line)) == query)
        for bad in ["QUERY\tsince=x", "QUERY\tlimit=-1", "QUERY\tpassword=1", "QUERY\toutcome=lost", "SELECT *", "QUERY\tclient=a.b"] {
            #expect(throws: QueryError.self) { try AccessLogQuery(line: Substring(bad)) }
        }
    }

    @Test("the local file rotates at its size and keeps the configured number of old files; queries read them all")
    func localFileRotation() async throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AccessLogConfig()
        config.file = directory + "/access.log"
        config.rotateBytes = 4096
        config.keep = 3
        let log = try AccessLog(config: config, cores: 2, logger: .init(label: "test"))
        for n in 1...300 {
            log.record(Self.record(n), core: n % 2)
            if n % 20 == 0 { log.flushOnce() }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files == ["access.log", "access.log.1", "access.log.2", "access.log.3"])
        let result = try AccessLog.query(file: config.file!, AccessLogQuery(limit: 100_000))
        #expect(result.matched < 300 && result.matched > 0)
        #expect(result.records.last == Self.record(300))
        #expect(throws: QueryError.self) { try AccessLog.query(file: directory + "/none.log", AccessLogQuery()) }
    }

    @Test("the traffic manager's notices and worse are event records in the access log; info is not")
    func eventsAreRecords() throws {
        let directory = Self.temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var config = AccessLogConfig()
        config.file = directory + "/access.log"
        let log = try AccessLog(config: config, cores: 1, logger: .init(label: "test"))
        let target = AccessLogEventTap.Target()
        target.log.withLock { $0 = log }
        var logger = Logger(label: "tms") { _ in AccessLogEventTap(target: target) }
        logger.logLevel = .info
        logger.info("configuration reloaded")
        logger.notice("service down", metadata: ["cvm.vserver": "web", "cvm.service": "a\tb"])
        logger.error("spool full")
        log.flushOnce()
        let events = try AccessLog.query(file: config.file!, AccessLogQuery(outcome: .event)).records
        #expect(events.count == 2)
        #expect(events.first?.vServer == "web" && events.first?.target.hasPrefix("service down cvm.service=a\tb") == true)
        #expect(events.last?.vServer == "-" && events.last?.client == "error")
    }
}
