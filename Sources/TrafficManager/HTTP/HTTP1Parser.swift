import NIOCore

/// The traffic manager's own HTTP/1.x message-head parser, for the per-request path: it reads a
/// request or response head straight from the bytes read, checks it strictly (RFC 9112: CRLF
/// line ends, token names, no folding, no space before the colon, one framing), and notes per
/// header line what the proxy must do with it. The head is then written on with a few lines
/// changed (`writeRequest`, `writeResponse`) — the rest is copied byte for byte, so what a
/// service or client receives is what was parsed, never a re-serialisation of something else.
///
/// Bounded: a head longer than `maxHeadBytes` or with more than `maxHeaderLines` lines is
/// refused, however it arrives.
struct HTTP1Head {
    static let maxHeadBytes = 64 << 10
    static let maxHeaderLines = 128

    /// What the proxy does with a header line.
    enum Kind: UInt8 {
        case other
        case contentLength
        case transferEncoding
        /// `Connection`.
        case connection
        /// `Keep-Alive`, `Proxy-Connection`: hop by hop, never forwarded.
        case hopByHop
        case forwardedFor
        /// `Upgrade`: hop by hop, forwarded only with a protocol switch (`isUpgrade`).
        case upgrade
    }

    /// How the body that follows the head is delimited.
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// A response read to the connection's end.
        case untilClose
    }

    enum Failure: Error, Equatable {
        case tooLarge
        case malformed(String)
        /// A method token that is none of the methods the traffic manager passes on.
        case unknownMethod
    }

    /// The head's bytes, from the start line to the empty line that ends it (included).
    let bytes: ByteBuffer
    /// The header lines (offsets into `bytes`, without their CRLF), their values (white space
    /// around them left out) and what each is.
    private(set) var lines: [(range: Range<Int>, value: Range<Int>, kind: Kind)] = []
    /// The start line's end (offset into `bytes`, before its CRLF).
    private(set) var startLineEnd = 0
    /// 0 or 1 (HTTP/1.0 or HTTP/1.1).
    private(set) var minorVersion = 1
    private(set) var framing = Framing.none
    /// `Connection: close` / `Connection: keep-alive` were sent.
    private(set) var asksClose = false
    private(set) var asksKeepAlive = false
    private(set) var hasTransferEncoding = false
    /// `Connection: upgrade` was sent.
    private(set) var asksUpgrade = false
    /// `Upgrade` lines with a value.
    private(set) var upgradeLines = 0
    // Requests.
    /// Where the method ends (the request line starts with it).
    private(set) var methodEnd = 0
    private(set) var isHEAD = false
    /// Whether a client may send the request again without changing the outcome (RFC 9110 §9.2.2).
    private(set) var isIdempotent = false
    // Responses.
    private(set) var status = 0

    /// A request that asks to switch protocols (a WebSocket handshake, RFC 9110 §7.8): HTTP/1.1,
    /// `Upgrade` named in `Connection`, one `Upgrade` line, no body. Its `Upgrade` goes on to the
    /// service; a `101` answer turns the connection into a tunnel. Otherwise `Upgrade` is dropped
    /// like any hop-by-hop header, and the request is an ordinary one.
    var isUpgrade: Bool { minorVersion == 1 && asksUpgrade && upgradeLines == 1 && framing == .none }

    /// Whether the connection stays open after this message, as its sender asked.
    var keepAlive: Bool { minorVersion == 1 ? !asksClose : (asksKeepAlive && !asksClose) }

    private init(bytes: ByteBuffer) {
        self.bytes = bytes
    }

    /// The head at the start of `buffer`'s readable bytes: nil while it is incomplete (and
    /// within the bounds); consumed from `buffer` when complete. `scanned` (0 for a new head)
    /// remembers how far an incomplete head was searched, so a head arriving a byte at a time
    /// is searched once, not once per byte.
    static func parseRequest(_ buffer: inout ByteBuffer, scanned: inout Int) throws(Failure) -> HTTP1Head? {
        try parse(&buffer, request: true, scanned: &scanned)
    }

    /// As `parseRequest`, for a response to a request whose method was HEAD when `toHEAD`.
    static func parseResponse(_ buffer: inout ByteBuffer, toHEAD: Bool, scanned: inout Int) throws(Failure) -> HTTP1Head? {
        guard var head = try parse(&buffer, request: false, scanned: &scanned) else { return nil }
        if toHEAD || head.status < 200 || head.status == 204 || head.status == 304 { head.framing = .none }
        return head
    }

    private static func parse(_ buffer: inout ByteBuffer, request: Bool, scanned: inout Int) throws(Failure) -> HTTP1Head? {
        let available = buffer.readableBytes
        // Find the empty line that ends the head: an LF with "\r\n\r" before it.
        let from = scanned
        let end: Int? = buffer.withUnsafeReadableBytes { raw in
            let limit = min(raw.count, maxHeadBytes)
            var index = max(3, from)
            while index < limit {
                if raw[index] == UInt8(ascii: "\n") {
                    if raw[index - 1] == UInt8(ascii: "\r") && raw[index - 2] == UInt8(ascii: "\n") && raw[index - 3] == UInt8(ascii: "\r") {
                        return index + 1
                    }
                    index += 2
                } else {
                    index += 1
                }
            }
            return nil
        }
        guard let end else {
            scanned = min(available, maxHeadBytes)
            if available >= maxHeadBytes { throw .tooLarge }
            // A head that cannot be one is refused before it is complete (a client that never
            // ends its garbage holds no buffer).
            if available > 0 { try checkPrefix(buffer, request: request) }
            return nil
        }
        scanned = 0
        let slice = buffer.readSlice(length: end)!
        var head = HTTP1Head(bytes: slice)
        try slice.withReadableBytes { (raw) throws(Failure) in try head.parseLines(raw, request: request) }
        return head
    }

    /// Refuses early a start that no valid head begins with (a request's first byte must be a
    /// method's; a response's must be `H`).
    private static func checkPrefix(_ buffer: ByteBuffer, request: Bool) throws(Failure) {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        if request ? !isTokenByte(first) : first != UInt8(ascii: "H") {
            throw .malformed("not an HTTP/1 message")
        }
    }

    private mutating func parseLines(_ raw: UnsafeRawBufferPointer, request: Bool) throws(Failure) {
        // Every line ends with CRLF; a CR or LF anywhere else is refused.
        var lineStart = 0
        var lineNumber = 0
        var contentLength: Int?
        var transferChunked = false
        var forwardedLines = 0
        lines.reserveCapacity(16)
        while true {
            var lineEnd = lineStart
            while raw[lineEnd] != UInt8(ascii: "\r") {
                if raw[lineEnd] == UInt8(ascii: "\n") || raw[lineEnd] == 0 { throw .malformed("a bare LF or NUL in the head") }
                lineEnd += 1
            }
            guard raw[lineEnd + 1] == UInt8(ascii: "\n") else { throw .malformed("a bare CR in the head") }
            if lineNumber == 0 {
                startLineEnd = lineEnd
                if request { try parseRequestLine(raw, end: lineEnd) } else { try parseStatusLine(raw, end: lineEnd) }
            } else if lineEnd == lineStart {
                break
            } else {
                guard lines.count < Self.maxHeaderLines else { throw .tooLarge }
                let (kind, value) = try Self.headerLine(raw, start: lineStart, end: lineEnd)
                switch kind {
                case .contentLength:
                    guard contentLength == nil else { throw .malformed("more than one Content-Length") }
                    contentLength = try Self.length(raw, value)
                case .transferEncoding:
                    guard !hasTransferEncoding else { throw .malformed("more than one Transfer-Encoding") }
                    hasTransferEncoding = true
                    transferChunked = Self.lastCodingIsChunked(raw, value)
                case .connection:
                    Self.connectionTokens(raw, value) { token in
                        switch token {
                        case .close: asksClose = true
                        case .keepAlive: asksKeepAlive = true
                        case .upgrade: asksUpgrade = true
                        case .other: break
                        }
                    }
                case .forwardedFor:
                    forwardedLines += 1
                case .upgrade:
                    if !value.isEmpty { upgradeLines += 1 }
                case .other, .hopByHop:
                    break
                }
                lines.append((lineStart..<lineEnd, value, kind))
            }
            lineStart = lineEnd + 2
            lineNumber += 1
        }
        if hasTransferEncoding {
            if request {
                // A request's body is chunked or the request is refused (RFC 9112 §6.3), and
                // a length beside it is a smuggling attempt.
                guard transferChunked else { throw .malformed("a Transfer-Encoding other than chunked") }
                guard contentLength == nil else { throw .malformed("both Transfer-Encoding and Content-Length") }
                guard minorVersion == 1 else { throw .malformed("Transfer-Encoding in an HTTP/1.0 request") }
            }
            framing = transferChunked ? .chunked : .untilClose
        } else if let contentLength {
            framing = contentLength == 0 ? .none : .length(contentLength)
        } else {
            framing = request ? .none : .untilClose
        }
    }

    private mutating func parseRequestLine(_ raw: UnsafeRawBufferPointer, end: Int) throws(Failure) {
        var index = 0
        while index < end && Self.isTokenByte(raw[index]) { index += 1 }
        guard index > 0, index < end, raw[index] == UInt8(ascii: " ") else { throw .malformed("a bad method") }
        methodEnd = index
        let method = UnsafeRawBufferPointer(rebasing: raw[0..<index])
        isHEAD = Self.equals(method, "HEAD")
        // The methods of RFC 9110, PATCH and WebDAV's: services' parsers know these, and a
        // method a service would not parse never reaches it (CONNECT: no tunnels here).
        let known: Bool
        switch index {
        case 3: isIdempotent = Self.equals(method, "GET") || Self.equals(method, "PUT"); known = isIdempotent
        case 4:
            isIdempotent = isHEAD
            known = isHEAD || Self.equals(method, "POST") || Self.equals(method, "COPY") || Self.equals(method, "LOCK")
                || Self.equals(method, "MOVE")
        case 5:
            isIdempotent = Self.equals(method, "TRACE")
            known = isIdempotent || Self.equals(method, "PATCH") || Self.equals(method, "MKCOL") || Self.equals(method, "PURGE")
        case 6:
            isIdempotent = Self.equals(method, "DELETE")
            known = isIdempotent || Self.equals(method, "REPORT") || Self.equals(method, "SEARCH") || Self.equals(method, "UNLOCK")
        case 7: isIdempotent = Self.equals(method, "OPTIONS"); known = isIdempotent
        case 8: isIdempotent = false; known = Self.equals(method, "PROPFIND")
        case 9: isIdempotent = false; known = Self.equals(method, "PROPPATCH")
        default: isIdempotent = false; known = false
        }
        guard known else { throw .unknownMethod }
        index += 1
        let targetStart = index
        while index < end && Self.isTargetByte(raw[index]) { index += 1 }
        guard index > targetStart, index + 9 == end, raw[index] == UInt8(ascii: " "),
              Self.isTargetForm(UnsafeRawBufferPointer(rebasing: raw[targetStart..<index])) else { throw .malformed("a bad request target") }
        minorVersion = try Self.version(raw, at: index + 1)
    }

    private mutating func parseStatusLine(_ raw: UnsafeRawBufferPointer, end: Int) throws(Failure) {
        guard end >= 12 else { throw .malformed("a bad status line") }
        minorVersion = try Self.version(raw, at: 0)
        guard raw[8] == UInt8(ascii: " ") else { throw .malformed("a bad status line") }
        var status = 0
        for index in 9..<12 {
            let digit = raw[index] &- UInt8(ascii: "0")
            guard digit < 10 else { throw .malformed("a bad status code") }
            status = status * 10 + Int(digit)
        }
        guard status >= 100, end == 12 || raw[12] == UInt8(ascii: " ") else { throw .malformed("a bad status code") }
        for index in 12..<end where !Self.isValueByte(raw[index]) { throw .malformed("a bad reason phrase") }
        self.status = status
    }

    /// Origin form (`/...`), asterisk form (`*`) or absolute form (`scheme://...`), RFC 9112 §3.2.
    private static func isTargetForm(_ target: UnsafeRawBufferPointer) -> Bool {
        if target[0] == UInt8(ascii: "/") { return true }
        if target.count == 1 { return target[0] == UInt8(ascii: "*") }
        var index = 0
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
        guard isLetter(target[0]) else { return false }
        while index < target.count, isLetter(target[index]) || (target[index] >= UInt8(ascii: "0") && target[index] <= UInt8(ascii: "9"))
                || target[index] == UInt8(ascii: "+") || target[index] == UInt8(ascii: "-") || target[index] == UInt8(ascii: ".") {
            index += 1
        }
        return index + 3 < target.count && target[index] == UInt8(ascii: ":") && target[index + 1] == UInt8(ascii: "/")
            && target[index + 2] == UInt8(ascii: "/")
    }

    /// `HTTP/1.0` or `HTTP/1.1` at `at`: the minor version.
    private static func version(_ raw: UnsafeRawBufferPointer, at: Int) throws(Failure) -> Int {
        guard equals(UnsafeRawBufferPointer(rebasing: raw[at..<at + 7]), "HTTP/1.") else { throw .malformed("not HTTP/1.x") }
        switch raw[at + 7] {
        case UInt8(ascii: "0"): return 0
        case UInt8(ascii: "1"): return 1
        default: throw .malformed("not HTTP/1.0 or HTTP/1.1")
        }
    }

    /// A header line: its kind and the value's range (without surrounding white space).
    private static func headerLine(_ raw: UnsafeRawBufferPointer, start: Int, end: Int) throws(Failure) -> (Kind, Range<Int>) {
        var index = start
        while index < end && isTokenByte(raw[index]) { index += 1 }
        guard index > start, index < end, raw[index] == UInt8(ascii: ":") else {
            throw .malformed(raw[start] == UInt8(ascii: " ") || raw[start] == UInt8(ascii: "\t") ? "a folded header line" : "a bad header name")
        }
        let kind = self.kind(UnsafeRawBufferPointer(rebasing: raw[start..<index]))
        let value = trimmed(raw, index + 1..<end)
        for position in value where !isValueByte(raw[position]) { throw .malformed("a bad header value") }
        return (kind, value)
    }

    private static func kind(_ name: UnsafeRawBufferPointer) -> Kind {
        // By length first: most names are none of these.
        switch name.count {
        case 10: return equalsLowercased(name, "connection") ? .connection : equalsLowercased(name, "keep-alive") ? .hopByHop : .other
        case 14: return equalsLowercased(name, "content-length") ? .contentLength : .other
        case 17: return equalsLowercased(name, "transfer-encoding") ? .transferEncoding : .other
        case 15: return equalsLowercased(name, "x-forwarded-for") ? .forwardedFor : .other
        case 16: return equalsLowercased(name, "proxy-connection") ? .hopByHop : .other
        case 7: return equalsLowercased(name, "upgrade") ? .upgrade : .other
        default: return .other
        }
    }

    /// Byte for byte (methods are case-sensitive).
    private static func equals(_ bytes: UnsafeRawBufferPointer, _ expected: StaticString) -> Bool {
        bytes.count == expected.utf8CodeUnitCount
            && bytes.elementsEqual(UnsafeRawBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount))
    }

    private static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] | 0x20 { return false }
        return true
    }

    /// A Content-Length value: digits only, at most 15 of them.
    private static func length(_ raw: UnsafeRawBufferPointer, _ value: Range<Int>) throws(Failure) -> Int {
        guard !value.isEmpty, value.count <= 15 else { throw .malformed("a bad Content-Length") }
        var length = 0
        for index in value {
            let digit = raw[index] &- UInt8(ascii: "0")
            guard digit < 10 else { throw .malformed("a bad Content-Length") }
            length = length * 10 + Int(digit)
        }
        return length
    }

    /// Whether the last coding of a Transfer-Encoding list is exactly `chunked`.
    private static func lastCodingIsChunked(_ raw: UnsafeRawBufferPointer, _ value: Range<Int>) -> Bool {
        let last = value.last(where: { raw[$0] == UInt8(ascii: ",") }).map { $0 + 1 } ?? value.lowerBound
        return equalsLowercased(UnsafeRawBufferPointer(rebasing: raw[trimmed(raw, last..<value.upperBound)]), "chunked")
    }

    private enum ConnectionToken { case close, keepAlive, upgrade, other }

    private static func connectionTokens(_ raw: UnsafeRawBufferPointer, _ value: Range<Int>, _ body: (ConnectionToken) -> Void) {
        var start = value.lowerBound
        while start < value.upperBound {
            var end = start
            while end < value.upperBound && raw[end] != UInt8(ascii: ",") { end += 1 }
            let token = UnsafeRawBufferPointer(rebasing: raw[trimmed(raw, start..<end)])
            body(equalsLowercased(token, "close") ? .close : equalsLowercased(token, "keep-alive") ? .keepAlive
                 : equalsLowercased(token, "upgrade") ? .upgrade : .other)
            start = end + 1
        }
    }

    // MARK: byte classes (RFC 9110 §5.6.2, RFC 3986)

    // Bit b of (low, high) is set for the bytes b < 128 of the class; constants, not tables:
    // a global table costs a lazy-initialisation check at every byte.

    /// tchar: letters, digits and ``!#$%&'*+-.^_`|~``.
    @inline(__always) static func isTokenByte(_ byte: UInt8) -> Bool {
        inClass(byte, low: 0x03FF_6CFA_0000_0000, high: 0x57FF_FFFF_C7FF_FFFE)
    }
    /// The bytes of a request target: unreserved, sub-delims, `:@/?%[]`.
    @inline(__always) static func isTargetByte(_ byte: UInt8) -> Bool {
        inClass(byte, low: 0xAFFF_FFF2_0000_0000, high: 0x47FF_FFFE_AFFF_FFFF)
    }
    @inline(__always) private static func inClass(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
        byte < 64 ? (low >> UInt64(byte)) & 1 == 1 : byte < 128 ? (high >> UInt64(byte &- 64)) & 1 == 1 : false
    }
    /// Visible characters, space, tab and obs-text.
    @inline(__always) private static func isValueByte(_ byte: UInt8) -> Bool {
        byte >= 0x20 ? byte != 0x7F : byte == UInt8(ascii: "\t")
    }

    // MARK: writing it on

    /// The request as it goes to a service: HTTP/1.1, without hop-by-hop headers, with the
    /// client's address appended to `X-Forwarded-For` (one line, last, holding the values of
    /// the lines the client sent). A protocol switch keeps its `Upgrade` and says
    /// `Connection: upgrade`.
    func writeRequest(to out: inout ByteBuffer, clientIP: String?) {
        out.reserveCapacity(minimumWritableBytes: bytes.readableBytes + 64)
        let upgrade = isUpgrade
        bytes.withUnsafeReadableBytes { raw in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<(startLineEnd - 8)]))
            out.writeStaticString("HTTP/1.1\r\n")
            if upgrade { out.writeStaticString("Connection: upgrade\r\n") }
            for line in lines {
                switch line.kind {
                case .connection, .hopByHop: continue
                case .upgrade where !upgrade: continue
                case .forwardedFor where clientIP != nil: continue
                default: break
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[line.range]))
                out.writeStaticString("\r\n")
            }
            if let clientIP {
                out.writeStaticString("X-Forwarded-For: ")
                for line in lines where line.kind == .forwardedFor && !line.value.isEmpty {
                    out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[line.value]))
                    out.writeStaticString(", ")
                }
                out.writeString(clientIP)
                out.writeStaticString("\r\n")
            }
        }
        out.writeStaticString("\r\n")
    }

    /// How a response's body is passed on to a client.
    enum BodyPassing: Equatable {
        /// As it came (no body, a length, or chunked to an HTTP/1.1 client).
        case asIs
        /// Chunked by the traffic manager (a body delimited by the close, to an HTTP/1.1 client
        /// whose connection stays open).
        case chunk
        /// The chunks' data only (a chunked body to an HTTP/1.0 client; the close ends it).
        case unchunk
    }

    /// How this response's body goes to a client speaking HTTP/1.`clientMinor`, and whether the
    /// client's connection can stay open after it (`clientKeepAlive`: as the client asked).
    func passing(clientMinor: Int, clientKeepAlive: Bool) -> (BodyPassing, keepAlive: Bool) {
        switch framing {
        case .none, .length: return (.asIs, clientKeepAlive)
        case .chunked: return clientMinor == 1 ? (.asIs, clientKeepAlive) : (.unchunk, false)
        case .untilClose: return clientMinor == 1 ? (.chunk, clientKeepAlive) : (.asIs, false)
        }
    }

    /// The response as it goes to the client: its version, without hop-by-hop headers, the
    /// framing headers `passing` needs, and `Connection` as `keepAlive` says.
    func writeResponse(to out: inout ByteBuffer, clientMinor: Int, passing: BodyPassing, keepAlive: Bool) {
        out.reserveCapacity(minimumWritableBytes: bytes.readableBytes + 64)
        bytes.withUnsafeReadableBytes { raw in
            out.writeStaticString(clientMinor == 1 ? "HTTP/1.1" : "HTTP/1.0")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[8..<startLineEnd]))
            out.writeStaticString("\r\n")
            for line in lines {
                switch line.kind {
                case .connection, .hopByHop, .upgrade: continue
                case .transferEncoding where passing == .unchunk: continue
                // A length beside a Transfer-Encoding is not the body's (RFC 9112 §6.3).
                case .contentLength where hasTransferEncoding: continue
                default: break
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[line.range]))
                out.writeStaticString("\r\n")
            }
        }
        if passing == .chunk { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if !keepAlive {
            out.writeStaticString("Connection: close\r\n")
        } else if clientMinor == 0 {
            out.writeStaticString("Connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// A `101 Switching Protocols` as it goes to the client that asked for the switch: its
    /// headers as the service sent them, `Upgrade` included, and `Connection: upgrade`.
    func writeSwitch(to out: inout ByteBuffer) {
        out.reserveCapacity(minimumWritableBytes: bytes.readableBytes + 32)
        bytes.withUnsafeReadableBytes { raw in
            out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<startLineEnd]))
            out.writeStaticString("\r\nConnection: upgrade\r\n")
            for line in lines {
                switch line.kind {
                case .connection, .hopByHop: continue
                default: break
                }
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[line.range]))
                out.writeStaticString("\r\n")
            }
        }
        out.writeStaticString("\r\n")
    }

    /// `range` without the spaces and tabs at its ends (RFC 9110's OWS).
    private static func trimmed(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var (start, end) = (range.lowerBound, range.upperBound)
        while start < end && (raw[start] == UInt8(ascii: " ") || raw[start] == UInt8(ascii: "\t")) { start += 1 }
        while end > start && (raw[end - 1] == UInt8(ascii: " ") || raw[end - 1] == UInt8(ascii: "\t")) { end -= 1 }
        return start..<end
    }
}

/// Where an HTTP/1 body ends, read as it arrives: by its length, or by its chunks (sizes,
/// extensions and trailers checked as strictly as the head), or at the connection's end.
/// `consume` says how many of the bytes given belong to the body and whether the body ended
/// there; with `dataOnly`, it also names the ranges that are the chunks' data.
struct HTTP1BodyFramer {
    private enum State {
        case length(remaining: Int)
        case chunkSize(digits: Int, size: Int)
        case chunkExtension(size: Int)
        case chunkSizeLF(size: Int)
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailerLineStart(lines: Int)
        case trailerName(lines: Int, length: Int)
        case trailerValue(lines: Int, length: Int)
        case trailerLF(lines: Int, empty: Bool)
        case untilClose
        case done
    }

    private var state: State

    init(_ framing: HTTP1Head.Framing) {
        switch framing {
        case .none: state = .done
        case .length(let length): state = length > 0 ? .length(remaining: length) : .done
        case .chunked: state = .chunkSize(digits: 0, size: 0)
        case .untilClose: state = .untilClose
        }
    }

    var isDone: Bool { if case .done = state { true } else { false } }
    var isUntilClose: Bool { if case .untilClose = state { true } else { false } }

    /// Reads the body from the start of `raw`: the number of its bytes that are the body's
    /// (all of them unless the body ends within them), and whether it ended. `data` hears of
    /// the chunks' data ranges (or, unchunked, of every byte consumed).
    mutating func consume(_ raw: UnsafeRawBufferPointer, data: (Range<Int>) -> Void) throws(HTTP1Head.Failure) -> (count: Int, ended: Bool) {
        var index = 0
        let count = raw.count
        while index < count {
            switch state {
            case .done:
                return (index, true)
            case .untilClose:
                data(index..<count)
                return (count, false)
            case .length(let remaining):
                let take = min(remaining, count - index)
                data(index..<index + take)
                index += take
                state = remaining == take ? .done : .length(remaining: remaining - take)
            case .chunkSize(let digits, let size):
                let byte = raw[index]
                if let value = Self.hex(byte) {
                    guard digits < 15 else { throw .malformed("a chunk size too large") }
                    state = .chunkSize(digits: digits + 1, size: size << 4 | value)
                } else if digits > 0 && byte == UInt8(ascii: ";") {
                    state = .chunkExtension(size: size)
                } else if digits > 0 && byte == UInt8(ascii: "\r") {
                    state = .chunkSizeLF(size: size)
                } else {
                    throw .malformed("a bad chunk size")
                }
                index += 1
            case .chunkExtension(let size):
                let byte = raw[index]
                if byte == UInt8(ascii: "\r") {
                    state = .chunkSizeLF(size: size)
                } else if !(byte >= 0x20 ? byte != 0x7F : byte == UInt8(ascii: "\t")) {
                    throw .malformed("a bad chunk extension")
                }
                index += 1
            case .chunkSizeLF(let size):
                guard raw[index] == UInt8(ascii: "\n") else { throw .malformed("a bare CR after a chunk size") }
                index += 1
                state = size == 0 ? .trailerLineStart(lines: 0) : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let take = min(remaining, count - index)
                data(index..<index + take)
                index += take
                state = remaining == take ? .chunkDataCR : .chunkData(remaining: remaining - take)
            case .chunkDataCR:
                guard raw[index] == UInt8(ascii: "\r") else { throw .malformed("a chunk longer than its size") }
                index += 1
                state = .chunkDataLF
            case .chunkDataLF:
                guard raw[index] == UInt8(ascii: "\n") else { throw .malformed("a chunk longer than its size") }
                index += 1
                state = .chunkSize(digits: 0, size: 0)
            case .trailerLineStart(let lines):
                let byte = raw[index]
                if byte == UInt8(ascii: "\r") {
                    state = .trailerLF(lines: lines, empty: true)
                } else if HTTP1Head.isTokenByte(byte) {
                    guard lines < HTTP1Head.maxHeaderLines else { throw .tooLarge }
                    state = .trailerName(lines: lines + 1, length: 1)
                } else {
                    throw .malformed("a bad trailer line")
                }
                index += 1
            case .trailerName(let lines, let length):
                let byte = raw[index]
                if byte == UInt8(ascii: ":") {
                    state = .trailerValue(lines: lines, length: length + 1)
                } else if HTTP1Head.isTokenByte(byte) && length < 8 << 10 {
                    state = .trailerName(lines: lines, length: length + 1)
                } else {
                    throw .malformed("a bad trailer name")
                }
                index += 1
            case .trailerValue(let lines, let length):
                let byte = raw[index]
                if byte == UInt8(ascii: "\r") {
                    state = .trailerLF(lines: lines, empty: false)
                } else if !(byte >= 0x20 ? byte != 0x7F : byte == UInt8(ascii: "\t")) || length >= 8 << 10 {
                    throw .malformed("a bad trailer line")
                } else {
                    state = .trailerValue(lines: lines, length: length + 1)
                }
                index += 1
            case .trailerLF(let lines, let empty):
                guard raw[index] == UInt8(ascii: "\n") else { throw .malformed("a bare CR in the trailers") }
                index += 1
                state = empty ? .done : .trailerLineStart(lines: lines)
            }
        }
        return (index, isDone)
    }

    @inline(__always) private static func hex(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte &- UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}

extension ByteBuffer {
    /// `withUnsafeReadableBytes` for a body that throws only the parser's failures.
    func withReadableBytes<T>(_ body: (UnsafeRawBufferPointer) throws(HTTP1Head.Failure) -> T) throws(HTTP1Head.Failure) -> T {
        let result: Result<T, HTTP1Head.Failure> = withUnsafeReadableBytes { raw in
            do throws(HTTP1Head.Failure) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}

extension Optional where Wrapped == ByteBuffer {
    /// Appends `bytes` to the bytes held (taking `bytes` itself when none are): what a
    /// connection has read and not yet taken.
    mutating func append(_ bytes: inout ByteBuffer) {
        if var held = self, held.readableBytes > 0 {
            self = nil
            held.writeBuffer(&bytes)
            self = held
        } else {
            self = bytes
        }
    }
}
