import NIOCore
import TMSCore
import Testing
@testable import TrafficManager

/// The per-request path's own HTTP/1 parser: what it accepts and how it writes a head on, what
/// it refuses, how a body's end is found however the bytes arrive, and that no input crashes it
/// or reads differently when split.
@Suite struct HTTP1ParserTests {
    /// Parses a request head from `text` all at once.
    static func request(_ text: String) throws(HTTP1Head.Failure) -> HTTP1Head? {
        var buffer = ByteBuffer(string: text)
        var scanned = 0
        return try HTTP1Head.parseRequest(&buffer, scanned: &scanned)
    }

    static func response(_ text: String, toHEAD: Bool = false) throws(HTTP1Head.Failure) -> HTTP1Head? {
        var buffer = ByteBuffer(string: text)
        var scanned = 0
        return try HTTP1Head.parseResponse(&buffer, toHEAD: toHEAD, scanned: &scanned)
    }

    @Test("the byte classes' bit masks are RFC 9110's tchar and RFC 3986's target bytes, byte for byte")
    func byteClasses() {
        func letterOrDigit(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
        }
        for byte in UInt8.min...UInt8.max {
            #expect(HTTP1Head.isTokenByte(byte) == (letterOrDigit(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)), "\(byte)")
            #expect(HTTP1Head.isTargetByte(byte) == (letterOrDigit(byte) || "-._~!$&'()*+,;=:@/?%[]".utf8.contains(byte)), "\(byte)")
        }
    }

    @Test func aRequestIsWrittenOnWithItsHopByHopHeadersDroppedAndTheClientAppended() throws {
        let text = "GET /a?b=c HTTP/1.0\r\nHost: w\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c\r\n"
            + "X-Forwarded-For: 192.0.2.1\r\nAccept: */*\r\nx-forwarded-for:  192.0.2.2 \r\nKeep-Alive: 5\r\n\r\n"
        let head = try #require(try Self.request(text))
        #expect(head.minorVersion == 0 && head.keepAlive && head.isIdempotent && !head.isHEAD)
        #expect(head.framing == .none)
        var out = ByteBuffer()
        head.writeRequest(to: &out, clientIP: "127.0.0.1")
        #expect(String(buffer: out) == "GET /a?b=c HTTP/1.1\r\nHost: w\r\nAccept: */*\r\nX-Forwarded-For: 192.0.2.1, 192.0.2.2, 127.0.0.1\r\n\r\n")
    }

    @Test func aProtocolSwitchKeepsItsUpgradeOnlyWhenItIsOne() throws {
        // HTTP/1.1, Upgrade named in Connection, one Upgrade line, no body: forwarded as a switch.
        let text = "GET /chat HTTP/1.1\r\nHost: w\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n"
        let head = try #require(try Self.request(text))
        #expect(head.isUpgrade)
        var out = ByteBuffer()
        head.writeRequest(to: &out, clientIP: "127.0.0.1")
        #expect(String(buffer: out) == "GET /chat HTTP/1.1\r\nConnection: upgrade\r\nHost: w\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n")
        // Not a switch: Upgrade without the Connection token, two Upgrade lines, a body,
        // HTTP/1.0. Upgrade is dropped like any hop-by-hop header.
        for other in [
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n",
            "POST / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade:\r\n\r\n",
        ] {
            let head = try #require(try Self.request(other))
            #expect(!head.isUpgrade, "\(other.debugDescription)")
            var out = ByteBuffer()
            head.writeRequest(to: &out, clientIP: nil)
            #expect(!String(buffer: out).lowercased().contains("upgrade"), "\(String(buffer: out).debugDescription)")
        }
        // The service's 101 goes to the client with its Upgrade and Connection: upgrade.
        let switched = try #require(try Self.response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nKeep-Alive: 1\r\nSec-WebSocket-Accept: a\r\n\r\n"))
        #expect(switched.status == 101 && switched.framing == .none)
        var answer = ByteBuffer()
        switched.writeSwitch(to: &answer)
        #expect(String(buffer: answer) == "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: a\r\n\r\n")
        // Any other response drops it.
        var ordinary = ByteBuffer()
        try #require(try Self.response("HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"))
            .writeResponse(to: &ordinary, clientMinor: 1, passing: .asIs, keepAlive: true)
        #expect(String(buffer: ordinary) == "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func framingAndKeepAlive() throws {
        #expect(try Self.request("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n")?.framing == .length(12))
        #expect(try Self.request("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")?.framing == HTTP1Head.Framing.none)
        #expect(try Self.request("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n")?.framing == .chunked)
        #expect(try Self.request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(try Self.request("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(try Self.request("HEAD / HTTP/1.1\r\n\r\n")?.isHEAD == true)
        #expect(try Self.request("POST / HTTP/1.1\r\n\r\n")?.isIdempotent == false)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1234567890123456\r\n\r\n",
        "G\u{1}T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: w\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: w\nX: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: w\rX: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: w\u{0}x\r\n\r\n",
        "GET /a>b HTTP/1.1\r\n\r\n",
        "GET /a#b HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET /\r\n\r\n",
        "GET plain: HTTP/1.1\r\n\r\n",
        "GET plain HTTP/1.1\r\n\r\n",
        "GET http:/x HTTP/1.1\r\n\r\n",
        "GET ** HTTP/1.1\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
    ])
    func refuses(_ text: String) {
        #expect(throws: HTTP1Head.Failure.self) { _ = try Self.request(text) }
    }

    @Test func methodsAServiceWouldNotKnowAreRefused() throws {
        for method in ["PhST", "PXST", "get", "CONNECT", "BREW", "GETT"] {
            #expect(throws: HTTP1Head.Failure.unknownMethod, "\(method)") { _ = try Self.request("\(method) / HTTP/1.1\r\n\r\n") }
        }
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "UNLOCK"] {
            #expect(try Self.request("\(method) / HTTP/1.1\r\n\r\n") != nil, "\(method)")
        }
    }

    @Test func boundedBeforeItEnds() throws {
        // Not yet a head, and not yet too long: wait.
        #expect(try Self.request("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 1000)) == nil)
        // Too long without its end, or too many lines: refused.
        #expect(throws: HTTP1Head.Failure.tooLarge) { _ = try Self.request("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 70_000)) }
        let lines = String(repeating: "X: y\r\n", count: HTTP1Head.maxHeaderLines + 1)
        #expect(throws: HTTP1Head.Failure.tooLarge) { _ = try Self.request("GET / HTTP/1.1\r\n" + lines + "\r\n") }
        // Garbage is refused from its first byte.
        #expect(throws: HTTP1Head.Failure.self) { _ = try Self.request("\u{16}\u{3}\u{1}") }
    }

    @Test func aHeadArrivingAByteAtATimeIsTheSameHead() throws {
        let text = "POST /x HTTP/1.1\r\nHost: w\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\n\r\n"
        var buffer = ByteBuffer()
        var scanned = 0
        var head: HTTP1Head?
        for byte in text.utf8 {
            buffer.writeInteger(byte)
            if let parsed = try HTTP1Head.parseRequest(&buffer, scanned: &scanned) {
                head = parsed
                break
            }
        }
        let parsed = try #require(head)
        #expect(parsed.framing == .length(3))
        #expect(String(buffer: parsed.bytes) == "POST /x HTTP/1.1\r\nHost: w\r\nContent-Length: 3\r\n\r\n")
        #expect(buffer.readableBytes == 0)
    }

    @Test func responsesAreWrittenOnForTheClientsVersion() throws {
        let chunked = try #require(try Self.response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\nConnection: keep-alive\r\n\r\n"))
        #expect(chunked.framing == .chunked && chunked.keepAlive)
        // To an HTTP/1.1 client, as it came (the length beside it dropped).
        var (passing, keepAlive) = chunked.passing(clientMinor: 1, clientKeepAlive: true)
        #expect(passing == .asIs && keepAlive)
        var out = ByteBuffer()
        chunked.writeResponse(to: &out, clientMinor: 1, passing: passing, keepAlive: keepAlive)
        #expect(String(buffer: out) == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        // To an HTTP/1.0 client: unchunked, and the close ends it.
        (passing, keepAlive) = chunked.passing(clientMinor: 0, clientKeepAlive: true)
        #expect(passing == .unchunk && !keepAlive)
        out.clear()
        chunked.writeResponse(to: &out, clientMinor: 0, passing: passing, keepAlive: keepAlive)
        #expect(String(buffer: out) == "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n")

        // Delimited by the close: chunked for an HTTP/1.1 client that stays.
        let untilClose = try #require(try Self.response("HTTP/1.1 200 OK\r\nServer: s\r\nConnection: close\r\n\r\n"))
        #expect(untilClose.framing == .untilClose && !untilClose.keepAlive)
        (passing, keepAlive) = untilClose.passing(clientMinor: 1, clientKeepAlive: true)
        #expect(passing == .chunk && keepAlive)
        out.clear()
        untilClose.writeResponse(to: &out, clientMinor: 1, passing: passing, keepAlive: keepAlive)
        #expect(String(buffer: out) == "HTTP/1.1 200 OK\r\nServer: s\r\nTransfer-Encoding: chunked\r\n\r\n")

        // A length to an HTTP/1.0 client that asked to stay.
        let sized = try #require(try Self.response("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n"))
        (passing, keepAlive) = sized.passing(clientMinor: 0, clientKeepAlive: true)
        out.clear()
        sized.writeResponse(to: &out, clientMinor: 0, passing: passing, keepAlive: keepAlive)
        #expect(String(buffer: out) == "HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n")

        // No body: to HEAD, 1xx, 204, 304.
        #expect(try Self.response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", toHEAD: true)?.framing == HTTP1Head.Framing.none)
        #expect(try Self.response("HTTP/1.1 100 Continue\r\n\r\n")?.framing == HTTP1Head.Framing.none)
        #expect(try Self.response("HTTP/1.1 204 No Content\r\n\r\n")?.framing == HTTP1Head.Framing.none)
        #expect(try Self.response("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing == HTTP1Head.Framing.none)
        #expect(try Self.response("HTTP/1.1 200\r\n\r\n")?.status == 200)
        for bad in ["HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 X\r\n\r\n", "ICY 200 OK\r\n\r\n", "HTTP/1.1 200 O\u{1}K\r\n\r\n"] {
            #expect(throws: HTTP1Head.Failure.self, "\(bad.debugDescription)") { _ = try Self.response(bad) }
        }
    }

    /// Feeds `body` to a framer in pieces of `split` bytes: bytes taken, whether it ended, and
    /// the data it named.
    static func frame(_ framing: HTTP1Head.Framing, _ body: [UInt8], split: Int) throws -> (taken: Int, ended: Bool, data: [UInt8]) {
        var framer = HTTP1BodyFramer(framing)
        var taken = 0
        var data: [UInt8] = []
        while taken < body.count {
            let piece = Array(body[taken..<min(body.count, taken + split)])
            let (count, ended) = try piece.withUnsafeBytes { raw in
                try framer.consume(raw) { range in data += piece[range] }
            }
            taken += count
            if ended { return (taken, true, data) }
        }
        return (taken, framer.isDone, data)
    }

    @Test func bodiesEndWhereTheirFramingSaysWhateverTheSplit() throws {
        let chunked = Array("5;ext=1\r\nhello\r\n1A\r\n\(String(repeating: "z", count: 26))\r\n0\r\nTrailer-One: t\r\n\r\nGET /next".utf8)
        for split in [1, 2, 3, 7, 1000] {
            let result = try Self.frame(.chunked, chunked, split: split)
            #expect(result.ended && result.taken == chunked.count - "GET /next".utf8.count, "split \(split)")
            #expect(result.data == Array(("hello" + String(repeating: "z", count: 26)).utf8), "split \(split)")
            let sized = try Self.frame(.length(4), Array("abcdef".utf8), split: split)
            #expect(sized.ended && sized.taken == 4 && sized.data == Array("abcd".utf8))
        }
        let open = try Self.frame(.untilClose, Array("abc".utf8), split: 2)
        #expect(!open.ended && open.taken == 3)
    }

    @Test(arguments: [
        "5\r\nhello!\r\n0\r\n\r\n",        // longer than its size
        "5\nhello\r\n0\r\n\r\n",           // bare LF after the size
        "x\r\n",                           // not hex
        "\r\n",                            // no size
        " 5\r\nhello\r\n0\r\n\r\n",        // white space before the size
        "1111111111111111\r\n",            // too large
        "0\r\nBad Trailer\r\n\r\n",        // a trailer without a name and colon
        "0\r\nX: \u{0}\r\n\r\n",           // NUL in a trailer
        "5;a\u{1}\r\nhello\r\n",           // control byte in an extension
    ])
    func badChunksAreRefused(_ body: String) {
        #expect(throws: HTTP1Head.Failure.self) { _ = try Self.frame(.chunked, Array(body.utf8), split: 1) }
        #expect(throws: HTTP1Head.Failure.self) { _ = try Self.frame(.chunked, Array(body.utf8), split: 1000) }
    }

    /// Mutated requests and chunked bodies (seeded): nothing crashes, and a stream reads the
    /// same whole and a byte at a time (head accepted or refused alike, the same body end).
    @Test func mutatedInputReadsTheSameWholeAndSplit() {
        let seeds = [
            "POST /c HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: t\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            "POST /l HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n",
            "GET /g HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        ].map { Array($0.utf8) }
        let alphabet = Array("\r\n :;\t0123456789abcdefxGETPOST/-,".utf8)
        var random = SplitMix(seed: 0xF00D_5EED)
        var accepted = 0
        for round in 0..<5_000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int(1 + random.next() % 4) {
                mutate(&bytes, alphabet: alphabet, random: &random)
            }
            let whole = Self.read(bytes, split: bytes.count)
            let split = Self.read(bytes, split: 1)
            #expect(whole == split, "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            if whole.hasPrefix("head") { accepted += 1 }
        }
        #expect(accepted > 500)
    }

    /// A request stream read in pieces of `split` bytes: "refused", "incomplete", or the head's
    /// length and framing and where the body ended.
    static func read(_ bytes: [UInt8], split: Int) -> String {
        var buffer = ByteBuffer()
        var scanned = 0
        var offset = 0
        var head: HTTP1Head?
        do {
            while head == nil {
                guard offset < bytes.count else { return "incomplete" }
                buffer.writeBytes(bytes[offset..<min(bytes.count, offset + split)])
                offset = min(bytes.count, offset + split)
                head = try HTTP1Head.parseRequest(&buffer, scanned: &scanned)
            }
            let rest = Array(buffer.readableBytesView) + bytes[offset...]
            let body = try frame(head!.framing, rest, split: split)
            return "head \(head!.bytes.readableBytes) \(head!.framing) body \(body.taken) \(body.ended)"
        } catch {
            return "refused"
        }
    }
}
