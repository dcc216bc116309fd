import Foundation
import Logging
import Synchronization
import TMSCore

/// The traffic manager's access log (see ``AccessLogConfig``). Each core appends its records
/// to a buffer of its own (a lock only that core and the writer take); a writer thread takes
/// them every 50 ms and writes them to the local file (rotated) and to the spool, from which
/// the shipper streams them to the collector. Nothing on the data plane's event loops waits for
/// a disk or a collector: when the writer falls behind, a core's buffer holds at most
/// ``coreBufferLimit`` records and counts what it drops.
public final class AccessLog: Sendable {
    public let config: AccessLogConfig
    let buffers: [CoreBuffer]
    public let spool: AccessLogSpool?
    private let logger: Logger
    private let state = Locked(State())
    /// Called after each write that added records to the spool (the shipper's wake-up).
    let onSpooled = Locked<(@Sendable () -> Void)?>(nil)
    /// The writer's usage, a task of its own (`accesslog`, policy task `accessLog.cvm.task` or
    /// `log-collector`): records, disk bytes and its thread's CPU, so elastic mode can decide
    /// from measured usage whether the log collector is offloaded.
    public let usage: TaskUsage

    struct State {
        var running = false
        var stopped = false
        var thread: Thread?
        var written = 0
        var fileBytes = -1
        var fileErrors = 0
        var done: [CheckedContinuation<Void, Never>] = []
    }

    public static let coreBufferLimit = 100_000

    public init(config: AccessLogConfig, cores: Int, logger: Logger) throws {
        self.config = config
        self.logger = logger
        buffers = (0..<cores).map { _ in CoreBuffer() }
        usage = TaskUsage(name: "accesslog", task: config.cvm?.task ?? "log-collector", kind: .accessLog, ownThread: ())
        spool = try config.spool.map { try AccessLogSpool(directory: $0.directory, maxBytes: $0.maxBytes, dropOldest: $0.dropOldest) }
    }

    /// From a core's event loop: one connection ended.
    @inline(__always)
    public func record(_ record: AccessLogRecord, core: Int) {
        let buffer = buffers[core]
        let kept = buffer.records.withLock { records -> Bool in
            guard records.count < Self.coreBufferLimit else { return false }
            records.append(record)
            return true
        }
        if !kept { buffer.lost.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Starts the writer thread.
    public func start() {
        let start = state.withLock { state -> Bool in
            guard !state.running else { return false }
            state.running = true
            return true
        }
        guard start else { return }
        let thread = Thread { [self] in self.writerLoop() }
        thread.name = "access-log"
        thread.start()
    }

    /// Writes what is buffered and stops the writer.
    public func stop() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                guard state.running else { return true }
                state.stopped = true
                state.done.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Records written so far (to the file, or handed to the spool).
    public var written: Int { state.withLock { $0.written } }
    public var lost: Int { buffers.reduce(0) { $0 + $1.lost.load(ordering: .relaxed) } }

    /// One core's records not yet taken by the writer (its own object: no cache line shared
    /// with another core's).
    final class CoreBuffer: Sendable {
        let records = Locked<[AccessLogRecord]>([])
        /// Records dropped because the writer fell ``coreBufferLimit`` behind.
        let lost = Atomic<Int>(0)
    }

    private func writerLoop() {
        var lastPersist = ContinuousClock.now
        while true {
            let stopping = state.withLock { $0.stopped }
            flushOnce()
            if ContinuousClock.now - lastPersist > .milliseconds(500) || stopping {
                for event in spool?.persist() ?? [] { logger.error("\(event)") }
                lastPersist = ContinuousClock.now
            }
            if stopping { break }
            usleep(50_000)
        }
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.done = []; state.running = false }
            return state.done
        }
        for continuation in waiting { continuation.resume() }
    }

    /// What the writer thread does every 50 ms, now (benchmarks, without the writer running).
    public func flushOnceForBenchmark() { flushOnce() }

    /// Takes every core's records and writes them (the writer thread; tests call it directly).
    func flushOnce() {
        var records: [AccessLogRecord] = []
        for buffer in buffers {
            let taken = buffer.records.withLock { records -> [AccessLogRecord] in
                defer { records.removeAll(keepingCapacity: true) }
                return records
            }
            records += taken
        }
        guard !records.isEmpty else { return }
        let began = CPUClock.thread()
        records.sort { $0.timeMs < $1.timeMs }
        let lines = records.map(\.line)
        let bytes = lines.reduce(0) { $0 + $1.utf8.count + 1 }
        if let file = config.file { writeFile(lines, path: file) }
        if let spool {
            spool.append(lines)
            onSpooled.withLock { $0 }?()
        }
        state.withLock { $0.written += records.count }
        usage.cells[0].add(records: records.count, diskBytes: bytes * ((config.file == nil ? 0 : 1) + (spool == nil ? 0 : 1)),
                           threadNanos: Int(CPUClock.thread() &- began))
    }

    private func writeFile(_ lines: [String], path: String) {
        var text: [UInt8] = []
        for line in lines { text += Array(line.utf8); text.append(0x0a) }
        var size = state.withLock { $0.fileBytes }
        if size < 0 {
            var info = stat()
            size = stat(path, &info) == 0 ? Int(info.st_size) : 0
        }
        if size > 0, size + text.count > config.rotateBytes {
            Self.rotate(path, keep: config.keep)
            size = 0
        }
        if AccessLogSpool.appendBytes(text, to: path) {
            size += text.count
        } else {
            let failures = state.withLock { state -> Int in
                state.fileErrors += 1
                return state.fileErrors
            }
            if failures == 1 || failures % 100 == 0 {
                logger.error("cannot write the access log \(path): \(String(cString: strerror(errno))) (\(failures) failed writes)")
            }
            size = -1
        }
        state.withLock { $0.fileBytes = size }
    }

    /// `FILE` becomes `FILE.1`, `FILE.1` becomes `FILE.2`, ...; beyond `keep` old files are removed.
    static func rotate(_ path: String, keep: Int) {
        unlink("\(path).\(keep)")
        for index in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(index)", "\(path).\(index + 1)") }
        rename(path, "\(path).1")
    }

    /// The local file's records, oldest file first (`FILE.keep` ... `FILE.1`, `FILE`), that
    /// match `query`: what `cvmctl logs query --file` reads. Malformed lines are skipped.
    public static func query(file path: String, keep: Int = 1000, _ query: AccessLogQuery) throws -> (records: [AccessLogRecord], matched: Int) {
        var records: [AccessLogRecord] = []
        var matched = 0
        let manager = FileManager.default
        let paths = stride(from: keep, through: 1, by: -1).map { "\(path).\($0)" }.filter { manager.fileExists(atPath: $0) } + [path]
        guard manager.fileExists(atPath: path) || paths.count > 1 else {
            throw QueryError("no access log at \(path)")
        }
        for file in paths {
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            defer { try? handle.close() }
            var pending = Data()
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                pending += chunk
                while let newline = pending.firstIndex(of: 0x0a) {
                    let line = pending[pending.startIndex..<newline]
                    pending = pending[pending.index(after: newline)...]
                    guard let record = AccessLogRecord(line: Substring(decoding: line, as: UTF8.self)), query.matches(record) else { continue }
                    matched += 1
                    if !query.countOnly, records.count < query.limit { records.append(record) }
                }
                if pending.count > AccessLogRecord.maximumLength { pending = Data() }
            }
        }
        return (records, matched)
    }
}

/// Puts the traffic manager's log messages of level notice and above into the access log as
/// event records (once the access log exists), next to wherever they go anyway.
struct AccessLogEventTap: LogHandler {
    final class Target: Sendable {
        let log = Locked<AccessLog?>(nil)
    }

    let target: Target
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .notice

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        guard level >= .notice, let log = target.log.withLock({ $0 }) else { return }
        let all = self.metadata.merging(metadata ?? [:]) { $1 }
        var text = message.description
        for (key, value) in all.sorted(by: { $0.key < $1.key }) where key != "cvm.vserver" { text += " \(key)=\(value)" }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let vServer = all["cvm.vserver"].map { "\($0)" }
        log.record(.event(text, vServer: vServer, level: level.rawValue, timeMs: UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000), core: 0)
    }
}
