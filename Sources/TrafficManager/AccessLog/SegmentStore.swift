import CZlib
import Foundation

/// The log collector's store: access-log records in compressed, indexed segments, kept in a
/// region of a disk — in a CVM, its own disk after the configuration block — or of a file.
///
/// Layout from `offset`: a 4 KiB superblock (`CVMLOG1`, the collector's id, the slot size),
/// then fixed slots of ``slotSize`` bytes. A slot holds one segment: a 4 KiB header (text
/// `key=value` lines ended by a CRC-32 of them) and a raw-deflate body of lines
/// `<source>\t<seq>\t<record>`. Each append deflates its records with a sync flush, writes the
/// new body bytes, syncs, then writes the header (new length, counts) and syncs again: an
/// acknowledged record is on the disk, and a torn write leaves the header of the step before.
///
/// The header is the segment's index: time range, counts per outcome, bloom filters of its
/// vServers and client addresses, and every source's last sequence number (so a restarted
/// collector tells each traffic manager where to resume). Queries skip segments the index
/// excludes.
///
/// Retention: a new segment reuses the oldest slot once the store holds `maxBytes`, and
/// segments older than `maxAge` are dropped. When every slot is taken and `maxBytes` allows
/// more (it is larger than the region) and nothing is old enough, the store is full:
/// ``append(_:nowMs:)`` throws ``Failure/full`` and nothing is acknowledged.
///
/// Not thread-safe: the collector calls it from one thread.
public final class SegmentStore {
    public struct Options: Sendable {
        public var path: String
        public var offset: Int
        /// Bytes of the region (nil: to the end of the disk or file).
        public var capacity: Int?
        public var maxBytes: Int?
        public var maxAge: Duration?
        public var slotSize: Int

        public init(path: String, offset: Int = 0, capacity: Int? = nil, maxBytes: Int? = nil,
                    maxAge: Duration? = nil, slotSize: Int = 1 << 20) {
            self.path = path
            self.offset = offset
            self.capacity = capacity
            self.maxBytes = maxBytes
            self.maxAge = maxAge
            self.slotSize = slotSize
        }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case open(String)
        case io(String)
        case full(String)

        public var description: String {
            switch self {
            case .open(let text), .io(let text), .full(let text): return text
            }
        }
    }

    /// One stored record with where it came from.
    public struct Entry: Sendable, Hashable {
        public var source: String
        public var seq: UInt64
        public var record: AccessLogRecord
        /// The record's line as received, when it was parsed from one (stored as is, not
        /// rendered again).
        var line: Substring?

        public init(source: String, seq: UInt64, record: AccessLogRecord) {
            self.source = source
            self.seq = seq
            self.record = record
        }

        init(source: String, seq: UInt64, record: AccessLogRecord, line: Substring) {
            self.init(source: source, seq: seq, record: record)
            self.line = line
        }

        public static func == (a: Entry, b: Entry) -> Bool { a.source == b.source && a.seq == b.seq && a.record == b.record }
        public func hash(into hasher: inout Hasher) { hasher.combine(source); hasher.combine(seq) }
    }

    struct Header: Equatable {
        var number: UInt64 = 0
        var bodyLength = 0
        var count = 0
        var minTime: UInt64 = .max
        var maxTime: UInt64 = 0
        var outcomes: [AccessLogRecord.Outcome: Int] = [:]
        var vServers = Bloom(bits: 256)
        var clients = Bloom(bits: 1024)
        var sources: [String: UInt64] = [:]

        func render() -> [UInt8] {
            var text = "segment=\(number)\nlength=\(bodyLength)\ncount=\(count)\nmin=\(minTime)\nmax=\(maxTime)\n"
            for outcome in AccessLogRecord.Outcome.allCases { text += "o.\(outcome.rawValue)=\(outcomes[outcome] ?? 0)\n" }
            text += "vservers=\(vServers.hex)\nclients=\(clients.hex)\n"
            for (source, seq) in sources.sorted(by: { $0.key < $1.key }) { text += "src.\(source)=\(seq)\n" }
            let crc = text.utf8.withContiguousStorageIfAvailable { crc32(0, $0.baseAddress, uInt($0.count)) }
                ?? Array(text.utf8).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            text += "crc=\(crc)\n"
            return Array(text.utf8)
        }

        /// Nil unless the block holds a header whose CRC matches.
        init?(block: [UInt8]) {
            let bytes = block.prefix { $0 != 0 }
            guard let crcStart = bytes.lastRange(of: Array("crc=".utf8)), crcStart.lowerBound > 0 else { return nil }
            let body = Array(bytes[..<crcStart.lowerBound])
            let crcText = String(decoding: bytes[crcStart.upperBound...], as: UTF8.self).trimmingCharacters(in: .newlines)
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            guard let stored = UInt(crcText), stored == UInt(crc) else { return nil }
            var header = Header()
            for line in String(decoding: body, as: UTF8.self).split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { return nil }
                let key = line[..<equals], value = line[line.index(after: equals)...]
                switch key {
                case "segment": header.number = UInt64(value) ?? 0
                case "length": header.bodyLength = Int(value) ?? -1
                case "count": header.count = Int(value) ?? 0
                case "min": header.minTime = UInt64(value) ?? .max
                case "max": header.maxTime = UInt64(value) ?? 0
                case "vservers": header.vServers = Bloom(hex: value, bits: 256) ?? Bloom(bits: 256, full: true)
                case "clients": header.clients = Bloom(hex: value, bits: 1024) ?? Bloom(bits: 1024, full: true)
                default:
                    if key.hasPrefix("o."), let outcome = AccessLogRecord.Outcome(rawValue: String(key.dropFirst(2))) {
                        header.outcomes[outcome] = Int(value) ?? 0
                    } else if key.hasPrefix("src."), let seq = UInt64(value) {
                        header.sources[String(key.dropFirst(4))] = seq
                    }
                }
            }
            guard header.number > 0, header.bodyLength >= 0 else { return nil }
            self = header
        }

        init() {}
    }

    /// A bloom filter of two hashes over `bits` bits.
    struct Bloom: Equatable {
        var words: [UInt64]

        init(bits: Int, full: Bool = false) { words = Array(repeating: full ? .max : 0, count: bits / 64) }

        init?(hex: Substring, bits: Int) {
            guard hex.utf8.count == bits / 4 else { return nil }
            var words: [UInt64] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 16)
                guard let word = UInt64(hex[index..<next], radix: 16) else { return nil }
                words.append(word)
                index = next
            }
            self.words = words
        }

        var hex: String {
            words.map { word in
                let text = String(word, radix: 16)
                return String(repeating: "0", count: 16 - text.count) + text
            }.joined()
        }

        private func positions(_ key: Substring) -> (Int, Int) {
            // FNV-1a, split in two.
            var hash: UInt64 = 0xcbf29ce484222325
            for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
            let bits = words.count * 64
            return (Int(hash % UInt64(bits)), Int((hash >> 32) % UInt64(bits)))
        }

        mutating func insert(_ key: Substring) {
            let (a, b) = positions(key)
            words[a / 64] |= 1 << UInt64(a % 64)
            words[b / 64] |= 1 << UInt64(b % 64)
        }

        func mayContain(_ key: Substring) -> Bool {
            let (a, b) = positions(key)
            return words[a / 64] & (1 << UInt64(a % 64)) != 0 && words[b / 64] & (1 << UInt64(b % 64)) != 0
        }
    }

    public static let headerSize = 4096
    static let magic = "CVMLOG1"
    /// At most this many sources are remembered (the least recently written is forgotten).
    static let maximumSources = 32

    public let options: Options
    public private(set) var collectorID = ""
    private let fd: Int32
    private let slots: Int
    /// The header of each slot that holds a segment.
    private var headers: [Int: Header] = [:]
    /// The segment appends go to (nil until the first append after opening).
    private var open: (slot: Int, header: Header, stream: UnsafeMutablePointer<z_stream>)?
    /// Every source's last stored sequence number.
    public private(set) var lastSeq: [String: UInt64] = [:]

    public init(_ options: Options) throws(Failure) {
        self.options = options
        let fd = Glibc.open(options.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .open("cannot open \(options.path): \(String(cString: strerror(errno)))") }
        let size = Int(lseek(fd, 0, SEEK_END))
        let capacity = min(options.capacity ?? .max, size - options.offset)
        slots = max(0, (capacity - Self.headerSize) / options.slotSize)
        guard slots >= 2, options.slotSize >= 2 * Self.headerSize else {
            close(fd)
            throw .open("\(options.path) holds \(max(0, capacity)) bytes from offset \(options.offset): the log store needs at least \(Self.headerSize + 2 * options.slotSize)")
        }
        self.fd = fd
        do { try load() } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        if let open { deflateEnd(open.stream); open.stream.deallocate() }
        close(fd)
    }

    /// The bytes the store may hold.
    public var capacityBytes: Int { slots * options.slotSize }
    public var segmentCount: Int { headers.count }
    public var recordCount: Int { headers.values.reduce(0) { $0 + $1.count } }

    private func load() throws(Failure) {
        let superblock = try read(at: options.offset, count: Self.headerSize)
        let text = String(decoding: superblock.prefix { $0 != 0 }, as: UTF8.self)
        let lines = text.split(separator: "\n")
        if lines.first == Substring(Self.magic), lines.contains(Substring("slot=\(options.slotSize)")),
           let id = lines.first(where: { $0.hasPrefix("id=") })?.dropFirst(3), id.utf8.count == 16 {
            collectorID = String(id)
            for slot in 0..<slots {
                guard let header = Header(block: try read(at: slotOffset(slot), count: Self.headerSize)),
                      header.bodyLength <= options.slotSize - Self.headerSize else { continue }
                headers[slot] = header
                for (source, seq) in header.sources { lastSeq[source] = max(lastSeq[source] ?? 0, seq) }
            }
        } else {
            // A new disk (or another layout): format it.
            var id: UInt64 = 0
            while id == 0 { id = UInt64.random(in: 1 ... .max) }
            let hex = String(id, radix: 16)
            collectorID = String(repeating: "0", count: 16 - hex.count) + hex
            for slot in 0..<slots { try write(Array(repeating: 0, count: Self.headerSize), at: slotOffset(slot)) }
            try write(padded(Array("\(Self.magic)\nid=\(collectorID)\nslot=\(options.slotSize)\n".utf8)), at: options.offset)
            try sync()
        }
    }

    private func slotOffset(_ slot: Int) -> Int { options.offset + Self.headerSize + slot * options.slotSize }
    private var bodyCapacity: Int { options.slotSize - Self.headerSize }

    // MARK: appending

    /// Stores the entries whose sequence number is above their source's last one (the others
    /// are duplicates: a resend after a lost acknowledgement), durably, and returns every
    /// source's last sequence number.
    @discardableResult
    public func append(_ entries: [Entry], nowMs: UInt64) throws(Failure) -> [String: UInt64] {
        var fresh: [Entry] = []
        var last = lastSeq
        for entry in entries where entry.seq > (last[entry.source] ?? 0) {
            fresh.append(entry)
            last[entry.source] = entry.seq
        }
        guard !fresh.isEmpty else { return lastSeq }
        // With a maximum age, a segment spans at most an eighth of it (so it can go in time).
        if let maxAge = options.maxAge, let current = open, current.header.count > 0,
           current.header.minTime < nowMs &- UInt64(maxAge.components.seconds * 125) {
            try seal()
        }
        try dropExpired(nowMs: nowMs)
        // In chunks that surely fit a segment's body.
        var start = 0
        while start < fresh.count {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(bodyCapacity / 4 + 2048)
            var end = start
            while end < fresh.count, chunk.count < bodyCapacity / 4 {
                let entry = fresh[end]
                chunk.append(contentsOf: MonitorStreamLine.escape(entry.source).utf8)
                chunk.append(0x09)
                chunk.append(contentsOf: String(entry.seq).utf8)
                chunk.append(0x09)
                if let line = entry.line { chunk.append(contentsOf: line.utf8) } else { chunk.append(contentsOf: entry.record.line.utf8) }
                chunk.append(0x0a)
                end += 1
            }
            try write(chunk: chunk, entries: fresh[start..<end], nowMs: nowMs)
            start = end
        }
        return lastSeq
    }

    private func write(chunk: [UInt8], entries: ArraySlice<Entry>, nowMs: UInt64) throws(Failure) {
        if let current = open, current.header.bodyLength + Int(deflateBound(current.stream, uLong(chunk.count))) + 64 > bodyCapacity {
            try seal()
        }
        if open == nil { try openSegment(nowMs: nowMs) }
        guard var current = open else { return }
        let compressed = deflate(chunk, stream: current.stream, finish: false)
        try write(compressed, at: slotOffset(current.slot) + Self.headerSize + current.header.bodyLength)
        try sync()
        current.header.bodyLength += compressed.count
        for entry in entries {
            let record = entry.record
            current.header.count += 1
            current.header.minTime = min(current.header.minTime, record.timeMs)
            current.header.maxTime = max(current.header.maxTime, record.timeMs)
            current.header.outcomes[record.outcome, default: 0] += 1
            current.header.vServers.insert(Substring(record.vServer))
            current.header.clients.insert(record.clientIP)
            lastSeq[entry.source] = entry.seq
        }
        current.header.sources = boundedSources()
        try write(padded(current.header.render()), at: slotOffset(current.slot))
        try sync()
        headers[current.slot] = current.header
        open = current
    }

    private func boundedSources() -> [String: UInt64] {
        guard lastSeq.count > Self.maximumSources else { return lastSeq }
        // Forget the sources furthest behind.
        let kept = lastSeq.sorted { $0.value > $1.value }.prefix(Self.maximumSources)
        lastSeq = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        return lastSeq
    }

    private func seal() throws(Failure) {
        guard var current = open else { return }
        open = nil
        let tail = deflate([], stream: current.stream, finish: true)
        deflateEnd(current.stream)
        current.stream.deallocate()
        guard current.header.bodyLength + tail.count <= bodyCapacity else { return }
        try write(tail, at: slotOffset(current.slot) + Self.headerSize + current.header.bodyLength)
        try sync()
        current.header.bodyLength += tail.count
        try write(padded(current.header.render()), at: slotOffset(current.slot))
        try sync()
        headers[current.slot] = current.header
    }

    private func openSegment(nowMs: UInt64) throws(Failure) {
        let number = (headers.values.map(\.number).max() ?? 0) + 1
        let slot: Int
        let limit = options.maxBytes ?? capacityBytes
        let atMaximum = (headers.count + 1) * options.slotSize > limit
        if !atMaximum, let free = (0..<slots).first(where: { headers[$0] == nil }) {
            slot = free
        } else if atMaximum, let (oldest, _) = headers.min(by: { $0.value.number < $1.value.number }) {
            // The store holds its maximum: the oldest segment goes.
            slot = oldest
        } else {
            throw .full("the collector's disk is full: \(headers.count) segments fill its \(capacityBytes / 1024) KiB, retention keeps up to \(limit / 1024) KiB and no segment is older than the maximum age")
        }
        headers[slot] = nil
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = deflateInit2_(stream, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw .io("zlib: deflateInit2 failed (\(status))")
        }
        var header = Header()
        header.number = number
        header.sources = lastSeq
        try write(padded(header.render()), at: slotOffset(slot))
        open = (slot, header, stream)
    }

    private func dropExpired(nowMs: UInt64) throws(Failure) {
        guard let maxAge = options.maxAge else { return }
        let limit = nowMs &- UInt64(maxAge.components.seconds * 1000)
        for (slot, header) in headers where header.maxTime < limit && header.count > 0 && open?.slot != slot {
            try write(Array(repeating: 0, count: Self.headerSize), at: slotOffset(slot))
            headers[slot] = nil
        }
    }

    private func deflate(_ input: [UInt8], stream: UnsafeMutablePointer<z_stream>, finish: Bool) -> [UInt8] {
        var input = input
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        input.withUnsafeMutableBufferPointer { source in
            stream.pointee.next_in = source.baseAddress
            stream.pointee.avail_in = uInt(source.count)
            repeat {
                buffer.withUnsafeMutableBufferPointer { target in
                    stream.pointee.next_out = target.baseAddress
                    stream.pointee.avail_out = uInt(target.count)
                    _ = CZlib.deflate(stream, finish ? Z_FINISH : Z_SYNC_FLUSH)
                    output += target.prefix(target.count - Int(stream.pointee.avail_out))
                }
            } while stream.pointee.avail_out == 0
            stream.pointee.next_in = nil
        }
        return output
    }

    // MARK: querying

    /// The entries that match `query`, oldest first, at most `query.limit` of them (and how
    /// many matched in all when counting).
    public func query(_ query: AccessLogQuery) throws(Failure) -> (entries: [Entry], matched: Int, segmentsRead: Int) {
        var entries: [Entry] = []
        var matched = 0, read = 0
        for (slot, header) in headers.sorted(by: { $0.value.number < $1.value.number }) where header.count > 0 {
            if let since = query.sinceMs, header.maxTime < since { continue }
            if let until = query.untilMs, header.minTime > until { continue }
            if let outcome = query.outcome, (header.outcomes[outcome] ?? 0) == 0 { continue }
            if let vServer = query.vServer, !header.vServers.mayContain(Substring(vServer)) { continue }
            if let client = query.client, !header.clients.mayContain(Substring(client)) { continue }
            read += 1
            let body = try self.read(at: slotOffset(slot) + Self.headerSize, count: header.bodyLength)
            for line in Self.inflate(body).split(separator: 0x0a) {
                guard let entry = Self.entry(line), query.matches(entry.record) else { continue }
                matched += 1
                if !query.countOnly, entries.count < query.limit { entries.append(entry) }
            }
        }
        return (entries, matched, read)
    }

    static func entry(_ line: ArraySlice<UInt8>) -> Entry? {
        guard let firstTab = line.firstIndex(of: 0x09),
              let secondTab = line[line.index(after: firstTab)...].firstIndex(of: 0x09),
              let source = MonitorStreamLine.unescape(Substring(decoding: line[..<firstTab], as: UTF8.self)),
              let seq = UInt64(String(decoding: line[line.index(after: firstTab)..<secondTab], as: UTF8.self)),
              let record = AccessLogRecord(line: Substring(decoding: line[line.index(after: secondTab)...], as: UTF8.self))
        else { return nil }
        return Entry(source: source, seq: seq, record: record)
    }

    /// Inflates a raw-deflate body, complete or ended by a sync flush; a damaged body yields
    /// what came before the damage. At most 64 MiB.
    static func inflate(_ body: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return [] }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var input = body
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while output.count < 64 << 20 {
                let status = buffer.withUnsafeMutableBufferPointer { target -> Int32 in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    output += target.prefix(target.count - Int(stream.avail_out))
                    return status
                }
                guard status == Z_OK, stream.avail_in > 0 || stream.avail_out == 0 else { break }
            }
        }
        // Only whole lines.
        if let lastNewline = output.lastIndex(of: 0x0a) { output.removeSubrange(output.index(after: lastNewline)...) } else { output = [] }
        return output
    }

    // MARK: I/O

    private func padded(_ bytes: [UInt8]) -> [UInt8] {
        bytes.count >= Self.headerSize ? Array(bytes.prefix(Self.headerSize)) : bytes + Array(repeating: 0, count: Self.headerSize - bytes.count)
    }

    private func read(at offset: Int, count: Int) throws(Failure) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }
                throw .io("reading \(options.path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
        return bytes
    }

    private func write(_ bytes: [UInt8], at offset: Int) throws(Failure) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw .io("writing \(options.path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    private func sync() throws(Failure) {
        guard fdatasync(fd) == 0 else { throw .io("syncing \(options.path): \(String(cString: strerror(errno)))") }
    }
}

private extension Collection where Element == UInt8, Index == Int {
    func lastRange(of pattern: [UInt8]) -> Range<Int>? {
        guard count >= pattern.count else { return nil }
        var start = endIndex - pattern.count
        while start >= startIndex {
            if self[start..<start + pattern.count].elementsEqual(pattern) { return start..<start + pattern.count }
            start -= 1
        }
        return nil
    }
}
