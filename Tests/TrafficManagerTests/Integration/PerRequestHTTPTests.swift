import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing
import TMSCore
@testable import TrafficManager

/// `routing: request` with real sockets: each request parsed, routed and balanced on its own,
/// client connections kept alive, service connections pooled and reused, `X-Forwarded-For`
/// added, malformed requests answered 400 without reaching a service, and the quota counting
/// requests or connections.
extension ProxyTests {
    @Suite struct PerRequest {
        static func yaml(_ services: [RecordingHTTPService], extra: String = "", quotaCounts: String = "connections") -> String {
            yaml(services: services.map { ($0.name, $0.port) }, extra: extra, quotaCounts: quotaCounts)
        }

        /// One `routing: request` vServer `web` over the services (name, port) on 127.0.0.1.
        static func yaml(services: [(name: String, port: Int)], extra: String = "", quotaCounts: String = "connections") -> String {
            """
            admin: { enabled: false }
            vServers:
              - name: web
                bind: 127.0.0.1:0
                mode: http
                routing: request
                quotaCounts: \(quotaCounts)
                services: [\(services.map { "{ name: \($0.name), address: 127.0.0.1, port: \($0.port), capacity: 100 }" }.joined(separator: ", "))]
            \(extra)
            """
        }

        /// Sends one request and reads its response.
        static func exchange(_ client: HTTPClient, _ request: String) async throws -> HTTPAnswer {
            try await client.connection.send(Array(request.utf8))
            return try await client.next()
        }

        @Test("one client connection: requests balanced per request, X-Forwarded-For added, service connections reused")
        func balancesPerRequestAndReuses() async throws {
            let a = try await RecordingHTTPService.start("a")
            let b = try await RecordingHTTPService.start("b")
            try await withTrafficManager(Self.yaml([a, b])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let client = try await HTTPClient(address)
                var served: [String] = []
                for i in 0..<8 {
                    let answer = try await Self.exchange(client, "GET /r\(i) HTTP/1.1\r\nHost: web\r\nX-Forwarded-For: 192.0.2.7\r\n\r\n")
                    #expect(answer.status == 200)
                    #expect(answer.body.contains("path=/r\(i) "), "\(answer.body)")
                    #expect(answer.body.contains("xff=192.0.2.7, 127.0.0.1 "), "\(answer.body)")
                    served.append(String(answer.body.prefix(1)))
                }
                #expect(served == ["a", "b", "a", "b", "a", "b", "a", "b"])
                // The first request opened a's connection, the second b's; the rest reused them.
                #expect(a.accepted == 1 && b.accepted == 1)
                #expect(manager.vServer("web")?.usage.snapshot.opened == 1)
                // A second client's first request gets a new connection (http-reuse safe); its next ones reuse.
                let second = try await HTTPClient(address)
                _ = try await Self.exchange(second, "GET /first HTTP/1.1\r\nHost: web\r\n\r\n")
                _ = try await Self.exchange(second, "GET /second HTTP/1.1\r\nHost: web\r\n\r\n")
                _ = try await Self.exchange(second, "GET /third HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(a.accepted + b.accepted <= 4)
                await client.connection.close()
                await second.connection.close()
            }
        }

        @Test("a shutdown closes the pooled service connections (their descriptors do not outlive the data plane)")
        func shutdownClosesPooledConnections() async throws {
            let a = try await RecordingHTTPService.start("a")
            try await withTrafficManager(Self.yaml([a]), cores: 1) { manager in
                let client = try await HTTPClient(#require(manager.listeningAddress(of: "web")))
                let answer = try await Self.exchange(client, "GET /one HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(answer.status == 200)
                await client.connection.close()
                // The client gone, its service connection stays open in the pool.
                try await Task.sleep(for: .milliseconds(200))
                #expect(a.accepted == 1 && a.closed == 0)
            }
            #expect(await eventually { a.closed == 1 }, "the pooled connection is still open after the shutdown")
        }

        @Test("a pooled service connection closed as a request goes out: an idempotent request is sent again on a new one, a POST with a body gets 502")
        func resendsAnIdempotentRequestOnceWhenAPooledConnectionCloses() async throws {
            let a = try await RecordingHTTPService.start("a", closeOnSecondRequest: true)
            try await withTrafficManager(Self.yaml([a])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let client = try await HTTPClient(address)
                let first = try await Self.exchange(client, "GET /one HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(first.status == 200 && first.body.hasPrefix("a path=/one "), "\(first.body)")
                #expect(a.accepted == 1)
                // Pooled after /one; the service closes it on /two's head: /two goes out again on a new one.
                let second = try await Self.exchange(client, "GET /two HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(second.status == 200 && second.body.hasPrefix("a path=/two "), "\(second.status) \(second.body)")
                #expect(a.accepted == 2 && a.requests == 2)
                // A request with a body is not sent twice: the client gets 502, and the connection goes on.
                let post = try await Self.exchange(client, "POST /three HTTP/1.1\r\nHost: web\r\nContent-Length: 1\r\n\r\nx")
                #expect(post.status == 502, "\(post.status) \(post.body)")
                #expect(a.accepted == 2 && a.requests == 2)
                let fourth = try await Self.exchange(client, "GET /four HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(fourth.status == 200 && fourth.body.hasPrefix("a path=/four "), "\(fourth.status) \(fourth.body)")
                #expect(a.unproxied == 0)
                await client.connection.close()
                #expect(await eventually { manager.vServer("web")?.quota.totalInUse == 0 })
            }
        }

        @Test("pipelined requests are answered in order; Connection: close ends the connection after its response")
        func pipeliningAndClose() async throws {
            let a = try await RecordingHTTPService.start("a", delayFirstMilliseconds: 100)
            let b = try await RecordingHTTPService.start("b")
            try await withTrafficManager(Self.yaml([a, b])) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "web")))
                try await client.send(Array("GET /1 HTTP/1.1\r\nHost: w\r\n\r\nGET /2 HTTP/1.1\r\nHost: w\r\n\r\nGET /3 HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n".utf8))
                let text = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                let paths = text.split(separator: "path=").dropFirst().map { $0.prefix(2) }
                #expect(paths == ["/1", "/2", "/3"], "\(text)")
                #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 4)
                #expect(text.contains("Connection: close"))
                await client.close()
            }
        }

        @Test("a malformed request gets 400 and reaches no service", arguments: [
            "GET / HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
            "GET / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
            "G\u{1}T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            // The parser lets this through; the request validator does not send it on.
            "GET /a>b HTTP/1.1\r\nHost: w\r\n\r\n",
        ])
        func malformedIs400(_ request: String) async throws {
            let a = try await RecordingHTTPService.start("a")
            try await withTrafficManager(Self.yaml([a])) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "web")))
                try await client.send(Array(request.utf8))
                let text = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text)")
                #expect(a.requests == 0)
                await client.close()
            }
        }

        /// Request streams built to split a proxy's view of where requests end from a service's
        /// (conflicting lengths, chunked under obscured names, folded headers, bodies holding
        /// requests), then mutated byte by byte (seeded, so a failure repeats). Each goes on a new
        /// connection with a FIN after it. Whatever the traffic manager makes of them, every request
        /// a service parses is one the traffic manager parsed and forwarded (it carries the
        /// `X-Forwarded-For` the traffic manager adds), no service sees bytes it cannot parse,
        /// nothing crashes, and the quota comes back to zero (checked by `withTrafficManager`).
        @Test("fuzz: mutated and smuggling request streams reach services only as requests the traffic manager parsed")
        func fuzzNoSmuggling() async throws {
            let a = try await RecordingHTTPService.start("a")
            let b = try await RecordingHTTPService.start("b")
            let seeds = [
                "GET /plain HTTP/1.1\r\nHost: w\r\n\r\n",
                "POST /cl-te HTTP/1.1\r\nHost: w\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hidden HTTP/1.1\r\nX: y\r\n\r\n",
                "POST /te-cl HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n26\r\nGET /hidden HTTP/1.1\r\nHost: w\r\n\r\n\r\n0\r\n\r\n",
                "POST /obscured HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: xchunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
                "POST /folded HTTP/1.1\r\nHost: w\r\nContent-Length: 3\r\n Transfer-Encoding: chunked\r\n\r\nabc",
                "POST /chunked HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nTrailer: t\r\n\r\n",
                "POST /body HTTP/1.1\r\nHost: w\r\nContent-Length: 36\r\n\r\nGET /hidden HTTP/1.1\r\nHost: w\r\n\r\nGET /next HTTP/1.1\r\nHost: w\r\n\r\n",
                "GET /one HTTP/1.1\r\nHost: w\r\n\r\nGET /two HTTP/1.0\r\n\r\nGET /three HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n",
                "GET /space HTTP/1.1\r\nHost: w\r\nContent-Length : 5\r\n\r\nhello",
                "GET /nul HTTP/1.1\r\nHost: w\u{0}x\r\n\r\n",
            ].map { Array($0.utf8) }
            let alphabet = Array("\r\n :\t0123456789abcdefxGETPOST/-;".utf8)
            var random = SplitMix(seed: 0x5EED_F022)
            try await withTrafficManager(Self.yaml([a, b], quotaCounts: "requests")) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                var answered = 0
                for round in 0..<300 {
                    var bytes = seeds[Int(random.next() % UInt64(seeds.count))]
                    for _ in 0..<(round < seeds.count ? 0 : Int(random.next() % 4)) {
                        mutate(&bytes, alphabet: alphabet, random: &random)
                    }
                    let client = try await TestConnection.connect(to: address)
                    try await client.send(bytes)
                    try await client.finishSending()
                    let reply: [UInt8]
                    do {
                        reply = try await client.receiveUntilEnd(timeout: .seconds(10))
                    } catch {
                        Issue.record("round \(round): the connection did not end: \(String(decoding: bytes, as: UTF8.self).debugDescription) (received \(String(decoding: client.received, as: UTF8.self).debugDescription))")
                        await client.close()
                        break
                    }
                    if String(decoding: reply, as: UTF8.self).contains("HTTP/1.1 200 OK") { answered += 1 }
                    await client.close()
                    #expect(a.unproxied + b.unproxied == 0, "round \(round): a service saw a request the traffic manager did not forward: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                    #expect(a.malformed + b.malformed == 0, "round \(round): a service could not parse what it got: \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                    if a.unproxied + b.unproxied + a.malformed + b.malformed > 0 { break }
                }
                print("PerRequest fuzz: 300 streams, \(answered) got a service's answer, \(a.requests + b.requests) requests reached the services")
                #expect(answered > 20)
                let client = try await HTTPClient(address)
                #expect(try await Self.exchange(client, "GET /after HTTP/1.1\r\nHost: w\r\n\r\n").status == 200)
                await client.connection.close()
            }
        }

        @Test("a connection idle past idleTimeout is closed between requests; its use of the quota is given back")
        func idleTimeout() async throws {
            let a = try await RecordingHTTPService.start("a")
            try await withTrafficManager(Self.yaml([a], extra: "    idleTimeout: 300ms")) { manager in
                let client = try await HTTPClient(#require(manager.listeningAddress(of: "web")))
                #expect(try await Self.exchange(client, "GET /once HTTP/1.1\r\nHost: w\r\n\r\n").status == 200)
                #expect(manager.vServer("web")?.quota.totalInUse == 1)
                let started = ContinuousClock.now
                _ = try await client.connection.receiveUntilEnd(timeout: .seconds(30))
                let waited = ContinuousClock.now - started
                // Closed, not timed out (loose: the parallel suite on two cores delays tasks by seconds).
                #expect(waited >= .milliseconds(200) && waited < .seconds(10), "closed after \(waited)")
                #expect(await eventually { manager.vServer("web")?.quota.totalInUse == 0 })
            }
        }

        /// A client that does not read a large response holds the service back (the traffic
        /// manager stops reading the service) instead of the traffic manager buffering it.
        @Test("back-pressure: a client that does not read a 64 MiB response stalls the service; then all of it arrives")
        func slowReaderHoldsTheServiceBack() async throws {
            let size = 64 << 20
            let a = try await RecordingHTTPService.start("a", bigResponseBytes: size)
            try await withTrafficManager(Self.yaml([a])) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                defer { Glibc.close(fd) }
                var target = sockaddr_in()
                target.sin_family = sa_family_t(AF_INET)
                target.sin_port = in_port_t(UInt16(address.port).bigEndian)
                target.sin_addr.s_addr = inet_addr("127.0.0.1")
                var small: Int32 = 64 << 10
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                let connected = withUnsafePointer(to: &target) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                try #require(connected == 0)
                let request = Array("GET /big HTTP/1.1\r\nHost: w\r\n\r\n".utf8)
                #expect(send(fd, request, request.count, 0) == request.count)
                try await Task.sleep(for: .seconds(1))
                let written = a.bigWritten
                #expect(written < size / 4, "the service wrote \(written) bytes to a client that read none")
                var total = 0
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                var headerSeen = false
                while true {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    total += n
                    if !headerSeen, let end = buffer[..<n].firstRange(of: Array("\r\n\r\n".utf8)) {
                        headerSeen = true
                        total -= end.upperBound
                    }
                    if headerSeen && total >= size { break }
                }
                #expect(total == size)
                print("PerRequest back-pressure: the service had written \(written) bytes after 1 s of a client reading none (response \(size) bytes)")
            }
        }

        @Test("a request body reaches the service intact; a response without a length is relayed to its end")
        func bodiesBothWays() async throws {
            let a = try await RecordingHTTPService.start("a", closeDelimited: true)
            try await withTrafficManager(Self.yaml([a])) { manager in
                let client = try await HTTPClient(#require(manager.listeningAddress(of: "web")))
                let body = String(repeating: "x", count: 100_000)
                let answer = try await Self.exchange(client, "POST /up HTTP/1.1\r\nHost: w\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
                #expect(answer.status == 200)
                #expect(answer.body.contains("received=100000 "), "\(answer.body.prefix(200))")
                // The service closed its connection after the response: the client's stays open.
                let again = try await Self.exchange(client, "GET /again HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(again.body.contains("path=/again "))
                #expect(a.accepted == 2)
                await client.connection.close()
            }
        }

        @Test("quotaCounts: requests: a request beyond the limit spills to the backup, the end of the chain redirects per request")
        func quotaPerRequest() async throws {
            let slow = try await RecordingHTTPService.start("slow", delayFirstMilliseconds: 400)
            let spare = try await RecordingHTTPService.start("spare")
            let extra = """
                    spillover: { kind: connection, limit: 1, backup: overflow }
                  - name: overflow
                    mode: http
                    routing: request
                    quotaCounts: requests
                    services: [{ name: spare, address: 127.0.0.1, port: \(spare.port), capacity: 10 }]
                    spillover: { kind: connection, limit: 1, redirect: "http://sorry.example/" }
                """
            try await withTrafficManager(Self.yaml([slow], extra: extra, quotaCounts: "requests"), cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let first = try await HTTPClient(address)
                try await first.connection.send(Array("GET /held HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                #expect(await eventually { manager.vServer("web")?.quota.totalInUse == 1 })
                // The primary's one use is held: the next request (another connection) spills.
                let second = try await HTTPClient(address)
                let spilled = try await Self.exchange(second, "GET /spilled HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(spilled.body.hasPrefix("spare "), "\(spilled.body)")
                let held = try await first.next()
                #expect(held.body.hasPrefix("slow "))
                // Both answered: the uses are back; the same connection's next request goes to the primary.
                let back = try await Self.exchange(second, "GET /back HTTP/1.1\r\nHost: w\r\n\r\n")
                #expect(back.body.hasPrefix("slow "), "\(back.body)")
                #expect(manager.vServer("web")?.quota.totalInUse == 0)
                await first.connection.close()
                await second.connection.close()
            }
        }

        @Test("quotaCounts: connections: the chain full, each request of the connection gets 302 and the connection closes")
        func endOfChainPerConnection() async throws {
            let a = try await RecordingHTTPService.start("a")
            let extra = """
                    spillover: { kind: connection, limit: 0, redirect: "http://sorry.example/busy" }
                """
            try await withTrafficManager(Self.yaml([a], extra: extra)) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "web")))
                try await client.send(Array("GET / HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                let text = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 302 Found\r\n"), "\(text)")
                #expect(text.contains("Location: http://sorry.example/busy\r\n"))
                #expect(a.accepted == 0)
                await client.close()
            }
        }
    }
}

/// A client connection that reads responses one after another.
final class HTTPClient {
    let connection: TestConnection
    private var consumed = 0

    init(_ address: HostPort) async throws {
        connection = try await TestConnection.connect(to: address)
    }

    /// The next whole response.
    func next() async throws -> HTTPAnswer {
        while true {
            let bytes = Array(connection.received.dropFirst(consumed))
            if let (answer, length) = HTTPAnswer.parse(bytes) {
                consumed += length
                return answer
            }
            let have = consumed + bytes.count
            _ = try await connection.receive(atLeast: have + 1)
        }
    }
}

/// A response: status line, headers and a Content-Length or chunked body.
struct HTTPAnswer {
    var status: Int
    var headers: [(String, String)]
    var body: String

    /// The first whole response in `bytes` and its length, or nil while incomplete.
    static func parse(_ bytes: [UInt8]) -> (HTTPAnswer, Int)? {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        let headers = lines.dropFirst().map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]).lowercased(), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        let rest = Array(bytes[end.upperBound...])
        if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            guard rest.count >= length else { return nil }
            return (HTTPAnswer(status: status, headers: headers, body: String(decoding: rest.prefix(length), as: UTF8.self)), end.upperBound + length)
        }
        if headers.contains(where: { $0.0 == "transfer-encoding" && $0.1 == "chunked" }) {
            var body: [UInt8] = []
            var index = 0
            while let lineEnd = rest[index...].firstRange(of: Array("\r\n".utf8)) {
                guard let size = Int(String(decoding: rest[index..<lineEnd.lowerBound], as: UTF8.self), radix: 16) else { return nil }
                let start = lineEnd.upperBound
                guard rest.count >= start + size + 2 else { return nil }
                if size == 0 { return (HTTPAnswer(status: status, headers: headers, body: String(decoding: body, as: UTF8.self)), end.upperBound + start + 2) }
                body += rest[start..<start + size]
                index = start + size + 2
            }
            return nil
        }
        return (HTTPAnswer(status: status, headers: headers, body: ""), end.upperBound)
    }
}

/// An HTTP/1.1 service on 127.0.0.1 built on NIOHTTP1: answers each request with
/// `NAME path=PATH xff=X-FORWARDED-FOR received=BODY-BYTES ` and counts its connections and
/// requests. `closeDelimited`: answers without a length and closes. `delayFirstMilliseconds`:
/// holds its first response that long. `closeOnSecondRequest`: a connection answers its first
/// request and closes, unanswered, when the head of the next one arrives (a keep-alive that
/// ran out as the request went out).
final class RecordingHTTPService: Sendable {
    /// What the connections' handlers count (shared with them from before the listener opens).
    final class Counters: Sendable {
        let accepted = Atomic<Int>(0)
        let requests = Atomic<Int>(0)
        let first = Atomic<Bool>(true)
        /// Requests without the `X-Forwarded-For` a traffic manager on loopback adds last.
        let unproxied = Atomic<Int>(0)
        /// Connections whose bytes did not parse.
        let malformed = Atomic<Int>(0)
        /// Bytes of `/big` responses written to the socket so far.
        let bigWritten = Atomic<Int>(0)
        /// Connections that have closed.
        let closed = Atomic<Int>(0)
    }

    let name: String
    let port: Int
    let counters: Counters
    var accepted: Int { counters.accepted.load(ordering: .relaxed) }
    var requests: Int { counters.requests.load(ordering: .relaxed) }
    var unproxied: Int { counters.unproxied.load(ordering: .relaxed) }
    var malformed: Int { counters.malformed.load(ordering: .relaxed) }
    var bigWritten: Int { counters.bigWritten.load(ordering: .relaxed) }
    var closed: Int { counters.closed.load(ordering: .relaxed) }
    private let channel: any Channel

    private init(name: String, port: Int, counters: Counters, channel: any Channel) {
        self.name = name
        self.port = port
        self.counters = counters
        self.channel = channel
    }

    static func start(_ name: String, closeDelimited: Bool = false, delayFirstMilliseconds: Int = 0,
                      bigResponseBytes: Int = 0, closeOnSecondRequest: Bool = false) async throws -> RecordingHTTPService {
        let counters = Counters()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    counters.accepted.wrappingAdd(1, ordering: .relaxed)
                    if closeDelimited {
                        // Requests parsed, responses written as raw bytes (no encoder adds a length).
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    } else {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        Responder(name: name, closeDelimited: closeDelimited, delayFirst: delayFirstMilliseconds, big: bigResponseBytes,
                                  closeOnSecond: closeOnSecondRequest, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return RecordingHTTPService(name: name, port: channel.localAddress?.port ?? 0, counters: counters, channel: channel)
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let closeDelimited: Bool
        let delayFirst: Int
        let counters: Counters
        let big: Int
        let closeOnSecond: Bool
        private var head: HTTPRequestHead?
        private var received = 0
        private var answered = 0
        private var closing = false

        init(name: String, closeDelimited: Bool, delayFirst: Int, big: Int, closeOnSecond: Bool, counters: Counters) {
            self.big = big
            self.closeOnSecond = closeOnSecond
            self.name = name
            self.closeDelimited = closeDelimited
            self.delayFirst = delayFirst
            self.counters = counters
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !closing else { return }
            switch unwrapInboundIn(data) {
            case .head(let head):
                if closeOnSecond && answered > 0 {
                    closing = true
                    context.close(promise: nil)
                    return
                }
                self.head = head
                received = 0
            case .body(let buffer):
                received += buffer.readableBytes
            case .end:
                counters.requests.wrappingAdd(1, ordering: .relaxed)
                answered += 1
                let head = self.head!
                if head.uri == "/big" && big > 0 {
                    streamBig(context.channel)
                    return
                }
                let forwarded = head.headers["x-forwarded-for"]
                if forwarded.count != 1 || !forwarded[0].hasSuffix("127.0.0.1") {
                    counters.unproxied.wrappingAdd(1, ordering: .relaxed)
                }
                let text = "\(name) path=\(head.uri) xff=\(head.headers["x-forwarded-for"].joined(separator: "|")) received=\(received) "
                let headers: HTTPHeaders = ["Content-Length": "\(text.utf8.count)"]
                let delay = counters.first.exchange(false, ordering: .relaxed) ? delayFirst : 0
                let channel = context.channel
                let closeDelimited = closeDelimited
                let respond = {
                    if closeDelimited {
                        let raw = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + text
                        channel.writeAndFlush(channel.allocator.buffer(string: raw)).whenComplete { _ in channel.close(promise: nil) }
                        return
                    }
                    channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)), promise: nil)
                    channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: text))), promise: nil)
                    channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                }
                if delay > 0 {
                    context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) { respond() }
                } else {
                    respond()
                }
            }
        }

        /// `big` bytes in 64 KiB chunks, each written once the one before reached the socket.
        private func streamBig(_ channel: any Channel) {
            let big = big, counters = counters
            channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "\(big)"])), promise: nil)
            let chunk = channel.allocator.buffer(repeating: UInt8(ascii: "z"), count: 1 << 16)
            @Sendable func next(_ sent: Int) {
                guard sent < big else {
                    channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
                    return
                }
                let part = chunk.getSlice(at: 0, length: min(chunk.readableBytes, big - sent))!
                channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(part))).whenSuccess {
                    counters.bigWritten.wrappingAdd(part.readableBytes, ordering: .relaxed)
                    next(sent + part.readableBytes)
                }
            }
            next(0)
        }

        func channelInactive(context: ChannelHandlerContext) {
            counters.closed.wrappingAdd(1, ordering: .relaxed)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A request cut short by the traffic manager's close (its client left) is not malformed.
            if let error = error as? HTTPParserError, error != .invalidEOFState {
                counters.malformed.wrappingAdd(1, ordering: .relaxed)
            }
            context.close(promise: nil)
        }
    }
}
