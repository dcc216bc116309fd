import Foundation
import Synchronization
import TMSCore

/// The bounded on-disk buffer between the traffic manager and its log collector (see
/// ``AccessLogConfig``): every record gets the next sequence number and is appended to the
/// spool's files (`DIR/spool-<first seq>.log`, lines `<seq>\t<record>`); the collector's
/// acknowledgements (`DIR/acked`) say which ones it has. Records stay after their
/// acknowledgement, as history a replacement collector is sent again, until the space is
/// needed. When unacknowledged records alone fill `maxBytes`, the spool drops the oldest of
/// them if `dropOldest`, else the new records; either way it counts them and says so.
///
/// The spool's identity (`DIR/source`, made once) names this traffic manager to collectors:
/// they keep one sequence per source, and drop what they already have.
///
/// File I/O happens only in ``append(_:)`` and ``persist()``, which the access log's writer
/// thread calls; the shipper (on the control loop) reads and acknowledges in memory.
public final class AccessLogSpool: Sendable {
    public let directory: String
    public let maxBytes: Int
    public let dropOldest: Bool
    public let source: String
    private let state: Locked<State>

    struct File {
        var first: UInt64
        var last: UInt64
        var bytes: Int
        var path: String
    }

    struct State {
        /// Retained records, oldest first, from `head`.
        var seqs: [UInt64] = []
        var lines: [String] = []
        var head = 0
        var files: [File] = []
        var bytes = 0
        var nextSeq: UInt64 = 1
        var acked: UInt64 = 0
        var persistedAck: UInt64 = 0
        var highWater = 0
        var dropped = 0
        var droppedUnacknowledged = 0
        var events: [String] = []
    }

    public struct Stats: Sendable, Hashable {
        public var bytes: Int
        public var highWaterBytes: Int
        public var records: Int
        public var unacknowledged: Int
        public var nextSeq: UInt64
        public var acknowledged: UInt64
        public var dropped: Int
    }

    /// Files are cut at this size (smaller for small spools, so whole files can go).
    var fileLimit: Int { min(1 << 20, maxBytes / 8) }

    /// Opens (or creates) the spool in `directory`, reading back what a previous process left.
    public init(directory: String, maxBytes: Int, dropOldest: Bool) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.dropOldest = dropOldest
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let sourcePath = directory + "/source"
        if let text = try? String(contentsOfFile: sourcePath, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           text.utf8.count == 16, text.allSatisfy(\.isHexDigit) {
            source = text
        } else {
            let hex = String(UInt64.random(in: 1 ... .max), radix: 16)
            source = String(repeating: "0", count: 16 - hex.count) + hex
            try Data((source + "\n").utf8).write(to: URL(fileURLWithPath: sourcePath), options: .atomic)
        }
        var state = State()
        if let text = try? String(contentsOfFile: directory + "/acked", encoding: .utf8),
           let acked = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            state.acked = acked
            state.persistedAck = acked
        }
        let names = (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.filter({ $0.hasPrefix("spool-") && $0.hasSuffix(".log") }).sorted() {
            let path = directory + "/" + name
            guard let data = manager.contents(atPath: path), data.count <= 4 << 20 else { continue }
            var file = File(first: 0, last: 0, bytes: data.count, path: path)
            for line in data.split(separator: 0x0a) {
                guard let tab = line.firstIndex(of: 0x09), let seq = UInt64(String(decoding: line[..<tab], as: UTF8.self)),
                      seq >= state.nextSeq,
                      AccessLogRecord(line: Substring(decoding: line[line.index(after: tab)...], as: UTF8.self)) != nil else { continue }
                if file.first == 0 { file.first = seq }
                file.last = seq
                state.seqs.append(seq)
                state.lines.append(String(decoding: line[line.index(after: tab)...], as: UTF8.self))
                state.nextSeq = seq + 1
            }
            if file.first == 0 {
                try? manager.removeItem(atPath: path)
                continue
            }
            state.files.append(file)
            state.bytes += file.bytes
        }
        state.nextSeq = max(state.nextSeq, state.acked + 1)
        state.highWater = state.bytes
        self.state = Locked(state)
    }

    // MARK: the writer's side

    /// Gives the records the next sequence numbers and appends them (dropping as configured
    /// when the spool is full). Returns how many were dropped.
    @discardableResult
    public func append(_ lines: [String]) -> Int {
        guard !lines.isEmpty else { return 0 }
        return state.withLock { state in
            var text: [UInt8] = []
            var seqs: [UInt64] = []
            for line in lines {
                seqs.append(state.nextSeq)
                text += Array("\(state.nextSeq)\t\(line)\n".utf8)
                state.nextSeq += 1
            }
            // Make room: history first, then (if allowed) the oldest unacknowledged records.
            while state.bytes + text.count > maxBytes, let oldest = state.files.first, state.files.count > 1 || oldest.last <= state.acked {
                if oldest.last > state.acked {
                    guard dropOldest else { break }
                    let lost = Int(oldest.last - max(oldest.first, state.acked + 1) + 1)
                    state.droppedUnacknowledged += lost
                    state.dropped += lost
                    state.events.append("access-log spool full: dropped the oldest \(lost) unacknowledged records (seq \(max(oldest.first, state.acked + 1))-\(oldest.last)), as configured (dropOldest)")
                }
                removeFirstFile(&state)
            }
            if state.bytes + text.count > maxBytes {
                state.dropped += lines.count
                state.events.append("access-log spool full (\(state.bytes) of \(maxBytes) bytes unacknowledged): dropped \(lines.count) new records (seq \(seqs.first!)-\(seqs.last!)); the collector is not keeping up or not reachable")
                return lines.count
            }
            if state.files.last.map({ $0.bytes >= fileLimit }) ?? true {
                state.files.append(File(first: seqs[0], last: seqs[0], bytes: 0,
                                        path: directory + "/spool-" + Self.padded(seqs[0]) + ".log"))
            }
            let file = state.files[state.files.count - 1]
            guard Self.appendBytes(text, to: file.path) else {
                state.dropped += lines.count
                state.events.append("access-log spool: cannot write \(file.path) (\(String(cString: strerror(errno)))): dropped \(lines.count) records")
                if file.bytes == 0 { state.files.removeLast() }
                return lines.count
            }
            state.files[state.files.count - 1].last = seqs.last!
            state.files[state.files.count - 1].bytes += text.count
            state.bytes += text.count
            state.highWater = max(state.highWater, state.bytes)
            state.seqs += seqs
            state.lines += lines
            return 0
        }
    }

    private func removeFirstFile(_ state: inout State) {
        let file = state.files.removeFirst()
        try? FileManager.default.removeItem(atPath: file.path)
        state.bytes -= file.bytes
        while state.head < state.seqs.count, state.seqs[state.head] <= file.last { state.head += 1 }
        if state.head > 4096 && state.head * 2 > state.seqs.count {
            state.seqs.removeFirst(state.head)
            state.lines.removeFirst(state.head)
            state.head = 0
        }
    }

    /// Writes the acknowledged sequence number if it changed (atomically); returns the events
    /// (full spool, drops) since the last call, for the log.
    public func persist() -> [String] {
        let (acked, events) = state.withLock { state -> (UInt64?, [String]) in
            defer { state.events = [] }
            guard state.acked != state.persistedAck else { return (nil, state.events) }
            state.persistedAck = state.acked
            return (state.acked, state.events)
        }
        if let acked {
            try? Data("\(acked)\n".utf8).write(to: URL(fileURLWithPath: directory + "/acked"), options: .atomic)
        }
        return events
    }

    // MARK: the shipper's side

    /// Up to `limit` retained records from sequence number `seq` on.
    public func records(from seq: UInt64, limit: Int) -> [(seq: UInt64, line: String)] {
        state.withLock { state in
            let low = Self.firstIndex(from: seq, in: state)
            let end = min(state.seqs.count, low + limit)
            return (low..<end).map { (state.seqs[$0], state.lines[$0]) }
        }
    }

    /// The index of the first retained record with a sequence number of at least `seq`.
    private static func firstIndex(from seq: UInt64, in state: State) -> Int {
        var low = state.head, high = state.seqs.count
        while low < high {
            let middle = (low + high) / 2
            if state.seqs[middle] < seq { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// The collector has every record up to `seq`.
    public func acknowledge(_ seq: UInt64) {
        state.withLock { state in state.acked = max(state.acked, min(seq, state.nextSeq - 1)) }
    }

    /// The oldest retained sequence number (the next one to come when none is retained).
    public var oldestRetained: UInt64 {
        state.withLock { $0.head < $0.seqs.count ? $0.seqs[$0.head] : $0.nextSeq }
    }

    public var nextSeq: UInt64 { state.withLock { $0.nextSeq } }

    public var stats: Stats {
        state.withLock { state in
            let unacked = state.seqs.count - Self.firstIndex(from: state.acked + 1, in: state)
            return Stats(bytes: state.bytes, highWaterBytes: state.highWater, records: state.seqs.count - state.head,
                         unacknowledged: unacked, nextSeq: state.nextSeq, acknowledged: state.acked, dropped: state.dropped)
        }
    }

    // MARK: files

    static func padded(_ seq: UInt64) -> String {
        let text = String(seq)
        return String(repeating: "0", count: max(0, 20 - text.count)) + text
    }

    /// Appends with one write (O_APPEND); false on any error.
    static func appendBytes(_ bytes: [UInt8], to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
