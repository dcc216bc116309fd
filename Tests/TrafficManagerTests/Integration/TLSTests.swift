import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// Mutual TLS on both sides of the data plane, with real sockets and certificates made by
    /// `openssl`: a plain vServer whose service is a TLS vServer of the same traffic manager,
    /// which relays to an echo backend. Only a client with a certificate of the CA gets through,
    /// and only to a service whose certificate names the address connected to.
    @Suite struct TLS {
        @Test("relay through a TLS hop; a foreign client certificate, a misnamed service and a plaintext client get nothing")
        func relayAndRefusals() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("server", ips: ["127.0.0.1"])
            try pki.issue("misnamed", ips: ["127.0.0.9"])
            try pki.issue("tm", ips: [])
            try pki.issue("intruder", ips: [], by: "rogue-ca")
            let echo = try await TestBackend.start(.echo)
            let (secure, secure2) = (freeLoopbackPort(), freeLoopbackPort())
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: front
                    bind: 127.0.0.1:0
                    services: [{ name: s, address: 127.0.0.1, port: \(secure), capacity: 100, tls: \(pki.yaml("tm")) }]
                  - name: rogue
                    bind: 127.0.0.1:0
                    services: [{ name: s, address: 127.0.0.1, port: \(secure), capacity: 100, tls: \(pki.yaml("intruder")) }]
                  - name: misnamed
                    bind: 127.0.0.1:0
                    services: [{ name: s, address: 127.0.0.1, port: \(secure2), capacity: 100, tls: \(pki.yaml("tm")) }]
                  - name: secure
                    bind: 127.0.0.1:\(secure)
                    tls: \(pki.yaml("server"))
                    services: [{ name: echo, address: 127.0.0.1, port: \(echo.port), capacity: 100 }]
                  - name: secure2
                    bind: 127.0.0.1:\(secure2)
                    tls: \(pki.yaml("misnamed"))
                    services: [{ name: echo, address: 127.0.0.1, port: \(echo.port), capacity: 100 }]
                """
            try await withTrafficManager(yaml) { manager in
                let front = try #require(manager.listeningAddress(of: "front"))
                for seed in 0..<3 {
                    let data = payload(seed: UInt64(seed), count: 300_000)
                    #expect(try await TestConnection.echo(data, via: front) == data, "echoed intact through the TLS hop")
                }
                #expect(echo.acceptedCount == 3)

                let rogue = try #require(manager.listeningAddress(of: "rogue"))
                // Refused: the traffic manager may close before the client's bytes are written.
                let rogueEcho = (try? await TestConnection.echo(Array("hello".utf8), via: rogue)) ?? []
                #expect(rogueEcho.isEmpty, "a client certificate of another CA is refused")
                let misnamed = try #require(manager.listeningAddress(of: "misnamed"))
                let misnamedEcho = (try? await TestConnection.echo(Array("hello".utf8), via: misnamed)) ?? []
                #expect(misnamedEcho.isEmpty, "a service whose certificate names another address is refused")
                let plain = try await TestConnection.connect(to: HostPort(host: "127.0.0.1", port: secure))
                try? await plain.send(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                let answer = (try? await plain.receiveUntilEnd()) ?? []
                #expect(!String(decoding: answer, as: UTF8.self).contains("GET"), "a plaintext client gets no echo")
                await plain.close()
                // The foreign client certificate and the plaintext client never complete a
                // handshake: not routed. The client that refuses a misnamed service does so after
                // its Finished (NIOSSL checks the name once the handshake is done), so secure2
                // may have routed it, but no byte of it came through (the echo above was empty).
                #expect(manager.vServer("secure")?.quota.totalCounters.admitted == 3, "only completed handshakes are routed")
                #expect(echo.acceptedCount <= 4)
            }
        }
    }
}

extension ProxyTests.TLS {
    @Test("a tls key naming a missing or non-PEM file is one line naming the key and the file")
    func badFiles() throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        func parse(_ tls: String) -> String {
            do {
                _ = try TMSConfig.parse("""
                    vServers:
                      - name: v
                        bind: 127.0.0.1:0
                        tls: \(tls)
                        services: [{ address: 127.0.0.1, port: 9, capacity: 1 }]
                    """, file: "t.yaml")
                return ""
            } catch { return "\(error)" }
        }
        let missing = parse("{ certificate: /nonexistent/cert.pem, key: \(pki.path("server-key.pem")), ca: \(pki.path("ca.pem")) }")
        #expect(missing.contains("certificate") && missing.contains("/nonexistent/cert.pem") && missing.contains("cannot be read"), "\(missing)")
        try "not a key".write(toFile: pki.path("junk.pem"), atomically: true, encoding: .utf8)
        let junk = parse("{ certificate: \(pki.path("server-cert.pem")), key: \(pki.path("junk.pem")), ca: \(pki.path("ca.pem")) }")
        #expect(junk.contains("key") && junk.contains("junk.pem") && junk.contains("not a PEM file"), "\(junk)")
        let relative = parse("{ certificate: cert.pem, key: k.pem, ca: ca.pem }")
        #expect(relative.contains("absolute path"), "\(relative)")
        #expect(parse(pki.yaml("server")) == "")
        #expect(!missing.contains("\n"))
    }

    @Test("a key that does not go with its certificate fails the reload with one line; the previous generation runs on")
    func mismatchedKey() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("other", ips: ["127.0.0.1"])
        let echo = try await TestBackend.start(.echo)
        let plain = """
            admin: { enabled: false }
            vServers:
              - name: v
                bind: 127.0.0.1:0
                services: [{ name: e, address: 127.0.0.1, port: \(echo.port), capacity: 10 }]
            """
        try await withTrafficManager(plain) { manager in
            var config = try TMSConfig.parse(plain, file: "t.yaml")
            config.vServers[0].tls = TLSConfig(certificate: pki.path("server-cert.pem"), key: pki.path("other-key.pem"), ca: pki.path("ca.pem"))
            await #expect { _ = try await manager.reload(config) } throws: { error in
                "\(error)".contains("server-cert.pem") && "\(error)".contains("other-key.pem")
            }
            let address = try #require(manager.listeningAddress(of: "v"))
            #expect(try await TestConnection.echo([1, 2, 3], via: address) == [1, 2, 3], "still plain, still serving")
        }
    }
}

extension ProxyTests.TLS {
    @Test("a TLS service that accepts but never completes a handshake is given up after the connect timeout")
    func silentTLSServiceTimesOut() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("tm", ips: [])
        let sink = try await TestBackend.start(.sink)
        let yaml = """
            admin: { enabled: false }
            vServers:
              - name: front
                bind: 127.0.0.1:0
                connectTimeout: 300ms
                services: [{ name: s, address: 127.0.0.1, port: \(sink.port), capacity: 10, tls: \(pki.yaml("tm")) }]
            """
        try await withTrafficManager(yaml) { manager in
            let front = try #require(manager.listeningAddress(of: "front"))
            let began = ContinuousClock.now
            let client = try await TestConnection.connect(to: front)
            try await client.send(Array("hello".utf8))
            #expect(try await client.receiveUntilEnd(timeout: .seconds(30)).isEmpty)
            let took = ContinuousClock.now - began
            // Closed, not timed out (loose: the parallel suite on two cores delays tasks by seconds).
            #expect(took < .seconds(10), "took \(took)")
            await client.close()
        }
    }
}

extension ProxyTests.TLS {
    /// Monitors probe a TLS service over TLS (its `tls` key): the HTTP monitor sends its request
    /// in the handshake's session, the TCP one is up once the handshake completed (a service
    /// whose certificate does not name the address probed is down).
    @Test("monitors probe TLS services over TLS: HTTP through the session, TCP by the completed handshake")
    func monitorsProbeOverTLS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("tm", ips: [])
        try pki.issue("misnamed", ips: ["127.0.0.9"])
        let web = try await TestBackend.start(.http(status: 200, delay: .zero))
        let (secure, secure2) = (freeLoopbackPort(), freeLoopbackPort())
        let yaml = """
            admin: { enabled: false }
            monitors:
              - { name: page, kind: http, path: /health, interval: 50ms, timeout: 500ms, rise: 1, fall: 1 }
              - { name: port, kind: tcp, interval: 50ms, timeout: 500ms, rise: 1, fall: 1 }
            vServers:
              - name: viahttp
                monitor: page
                services: [{ name: s, address: 127.0.0.1, port: \(secure), capacity: 10, tls: \(pki.yaml("tm")) }]
              - name: viatcp
                monitor: port
                services:
                  - { name: good, address: 127.0.0.1, port: \(secure), capacity: 10, tls: \(pki.yaml("tm")) }
                  - { name: foreign, address: 127.0.0.1, port: \(secure2), capacity: 10, tls: \(pki.yaml("tm")) }
              - name: secure
                bind: 127.0.0.1:\(secure)
                mode: http
                tls: \(pki.yaml("server"))
                services: [{ name: web, address: 127.0.0.1, port: \(web.port), capacity: 100 }]
              - name: secure2
                bind: 127.0.0.1:\(secure2)
                tls: \(pki.yaml("misnamed"))
                services: [{ name: web, address: 127.0.0.1, port: \(web.port), capacity: 100 }]
            """
        try await withTrafficManager(yaml) { manager in
            func up(_ vServer: String, _ service: String) async -> Bool? {
                await manager.monitorStates().first { $0.vServer == vServer && $0.service == service }?.up
            }
            #expect(await eventually(timeout: .seconds(5)) { await up("viatcp", "foreign") == false }, "a certificate naming another address")
            let good = await up("viatcp", "good"), page = await up("viahttp", "s")
            #expect(good == true && page == true)
            #expect(await eventually { await manager.monitorStates().first { $0.vServer == "viahttp" }?.samples ?? 0 >= 3 },
                    "the HTTP probe's answers over TLS")
            // The page behind the TLS listener goes away: the HTTP probe sees it, the TCP one
            // still completes its handshake with the listener.
            await web.kill()
            #expect(await eventually(timeout: .seconds(5)) { await up("viahttp", "s") == false })
            #expect(await up("viatcp", "good") == true)
        }
    }
}

extension ProxyTests.TLS {
    /// Regression: with no service reachable, clients that close before sending a request
    /// (as a TCP monitor's probes do) held their quota: in HTTP mode until the idle timeout,
    /// behind TLS for NIOSSL's shutdown timeout too. Now it is given back as the connection is
    /// ended; the quota drains as soon as the probes stop.
    @Test("clients that close at once hold no quota when no service answers (plain and TLS, tcp and http)", arguments: ["http", "tcp"], [false, true])
    func closedClientsHoldNoQuota(mode: String, tls: Bool) async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("tm", ips: [])
        let (secure, dead) = (freeLoopbackPort(), freeLoopbackPort())
        let yaml = """
            admin: { enabled: false }
            monitors:
              - { name: port, kind: tcp, interval: 20ms, timeout: 500ms, rise: 1, fall: 1 }
            vServers:
              - name: prober
                monitor: port
                services: [{ name: s, address: 127.0.0.1, port: \(secure), capacity: 10\(tls ? ", tls: \(pki.yaml("tm"))" : "") }]
              - name: secure
                bind: 127.0.0.1:\(secure)
                mode: \(mode)
                \(tls ? "tls: \(pki.yaml("server"))" : "")
                services: [{ name: gone, address: 127.0.0.1, port: \(dead), capacity: 1000 }]
            """
        try await withTrafficManager(yaml) { manager in
            let secureQuota = try #require(manager.vServer("secure")?.quota)
            #expect(await eventually(timeout: .seconds(5)) { secureQuota.totalCounters.admitted >= 20 })
            _ = try await manager.reload(try TMSConfig.parse(yaml.replacingOccurrences(of: "monitor: port", with: "task: x"), file: "r.yaml"))
            #expect(await eventually(timeout: .seconds(1)) { secureQuota.totalInUse == 0 }, "held: \(secureQuota.totalInUse)")
        }
    }

    /// Regression: the request an HTTP client sent over TLS before its vServer found no service
    /// was replayed through the TLS handler again (as if still encrypted): the client got no
    /// answer. Now it gets the 503.
    @Test("an HTTP client over TLS whose vServer has no service left gets the 503")
    func endOfChainOverTLS() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("tm", ips: [])
        let (secure, dead) = (freeLoopbackPort(), freeLoopbackPort())
        let yaml = """
            admin: { enabled: false }
            vServers:
              - name: front
                bind: 127.0.0.1:0
                services: [{ name: s, address: 127.0.0.1, port: \(secure), capacity: 10, tls: \(pki.yaml("tm")) }]
              - name: secure
                bind: 127.0.0.1:\(secure)
                mode: http
                tls: \(pki.yaml("server"))
                services: [{ name: gone, address: 127.0.0.1, port: \(dead), capacity: 1000 }]
            """
        try await withTrafficManager(yaml) { manager in
            let front = try #require(manager.listeningAddress(of: "front"))
            for _ in 0..<3 {
                let client = try await TestConnection.connect(to: front)
                try await client.send(Array("GET /x HTTP/1.1\r\nHost: t\r\n\r\n".utf8))
                let answer = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer.prefix(80))")
                await client.close()
            }
        }
    }
}

extension ProxyTests.TLS {
    /// HTTP routed per request over TLS on both sides: the session's client stream and its
    /// service connection are NIO channels (TLS), and the plain front vServer with a TLS service
    /// is handed from the raw listener to NIO.
    @Test("routing: request behind a TLS listener, to a TLS service: parsed, X-Forwarded-For added, the service connection reused")
    func perRequestOverTLSBothWays() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("tm", ips: [])
        let service = try await RecordingHTTPService.start("a")
        let (web, terminator) = (freeLoopbackPort(), freeLoopbackPort())
        let yaml = """
            admin: { enabled: false }
            drainTimeout: 1s
            vServers:
              - name: front
                bind: 127.0.0.1:0
                services: [{ name: web, address: 127.0.0.1, port: \(web), capacity: 100, tls: \(pki.yaml("tm")) }]
              - name: web
                bind: 127.0.0.1:\(web)
                mode: http
                routing: request
                tls: \(pki.yaml("server"))
                services: [{ name: a, address: 127.0.0.1, port: \(terminator), capacity: 100, tls: \(pki.yaml("tm")) }]
              - name: terminator
                bind: 127.0.0.1:\(terminator)
                tls: \(pki.yaml("server"))
                services: [{ name: a, address: 127.0.0.1, port: \(service.port), capacity: 100 }]
            """
        // Web's pooled connection to the terminator rightly holds one use of the terminator's
        // quota until the pool lets it go (10 s idle): the test checks the others itself.
        try await withTrafficManager(yaml, quotaReturnsToZero: false) { manager in
            let client = try await HTTPClient(#require(manager.listeningAddress(of: "front")))
            for i in 0..<5 {
                let answer = try await ProxyTests.PerRequest.exchange(client, "GET /t\(i) HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(answer.status == 200)
                #expect(answer.body.contains("path=/t\(i) "), "\(answer.body)")
                #expect(answer.body.contains("xff=127.0.0.1 "), "\(answer.body)")
            }
            #expect(service.accepted == 1, "one TLS service connection, reused for every request")
            #expect(manager.vServer("web")?.usage.snapshot.opened == 1)
            await client.connection.close()
            #expect(await eventually { manager.vServer("front")?.quota.totalInUse == 0 && manager.vServer("web")?.quota.totalInUse == 0 },
                    "the client's connection and its session ended")
            #expect(manager.vServer("terminator")?.quota.totalInUse == 1, "the pooled service connection stays")
        }
    }
}

extension ProxyTests.TLS {
    @Test("routing: request: a TLS service that never completes a handshake is passed over after the connect timeout; with no other, 503")
    func perRequestSilentTLSService() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        try pki.issue("server", ips: ["127.0.0.1"])
        try pki.issue("tm", ips: [])
        let sink = try await TestBackend.start(.sink)
        let service = try await RecordingHTTPService.start("a")
        let terminator = freeLoopbackPort()
        func yaml(_ services: String) -> String {
            """
            admin: { enabled: false }
            drainTimeout: 1s
            vServers:
              - name: web
                bind: 127.0.0.1:0
                mode: http
                routing: request
                connectTimeout: 300ms
                services: [\(services)]
              - name: terminator
                bind: 127.0.0.1:\(terminator)
                tls: \(pki.yaml("server"))
                services: [{ name: a, address: 127.0.0.1, port: \(service.port), capacity: 100 }]
            """
        }
        let silent = "{ name: silent, address: 127.0.0.1, port: \(sink.port), capacity: 100, tls: \(pki.yaml("tm")) }"
        let good = "{ name: a, address: 127.0.0.1, port: \(terminator), capacity: 100, tls: \(pki.yaml("tm")) }"
        try await withTrafficManager(yaml(silent + ", " + good), cores: 1, quotaReturnsToZero: false) { manager in
            let address = try #require(manager.listeningAddress(of: "web"))
            var slowest = Duration.zero
            for i in 0..<3 {
                let began = ContinuousClock.now
                let client = try await HTTPClient(address)
                let answer = try await ProxyTests.PerRequest.exchange(client, "GET /s\(i) HTTP/1.1\r\nHost: web\r\n\r\n")
                #expect(answer.status == 200)
                #expect(answer.body.hasPrefix("a"), "\(answer.body)")
                slowest = max(slowest, ContinuousClock.now - began)
                await client.connection.close()
            }
            #expect((manager.vServer("web")?.usage.snapshot.connectFailures ?? 0) >= 1, "the silent service was tried")
            #expect(slowest >= .milliseconds(300) && slowest < .seconds(10), "given up after the connect timeout: \(slowest)")

            _ = try await manager.reload(try TMSConfig.parse(yaml(silent), file: "test.yaml"))
            let began = ContinuousClock.now
            let client = try await HTTPClient(address)
            let answer = try await ProxyTests.PerRequest.exchange(client, "GET /alone HTTP/1.1\r\nHost: web\r\n\r\n")
            #expect(answer.status == 503)
            #expect(ContinuousClock.now - began < .seconds(10))
            await client.connection.close()
            #expect(await eventually { manager.vServer("web")?.quota.totalInUse == 0 })
        }
    }
}
