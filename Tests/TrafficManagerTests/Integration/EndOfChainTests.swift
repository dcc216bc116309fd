import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct EndOfChain {
        @Test("HTTP: when the whole chain is full, the client gets 302 Found with the redirect URL")
        func redirectWhenChainFull() async throws {
            let web = try await TestBackend.start(.http(status: 200, delay: .zero))
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: web
                    bind: 127.0.0.1:0
                    mode: http
                    services: [{ name: s, address: 127.0.0.1, port: \(web.port), capacity: 10 }]
                    spillover: { kind: connection, limit: 0, backup: overflow }
                  - name: overflow
                    mode: http
                    services: [{ name: s, address: 127.0.0.1, port: \(web.port), capacity: 10 }]
                    spillover: { kind: connection, limit: 0, redirect: "http://sorry.example/busy" }
                """
            try await withTrafficManager(yaml) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let client = try await TestConnection.connect(to: address)
                try await client.send(Array("GET /index.html HTTP/1.1\r\nHost: web\r\n\r\n".utf8))
                let answer = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 302 Found\r\n"))
                #expect(answer.contains("Location: http://sorry.example/busy\r\n"))
                #expect(web.acceptedCount == 0)
                #expect(manager.vServer("web")?.usage.snapshot.refusals == 1)
                await client.close()
            }
        }

        @Test("HTTP: when every service refuses, the client gets 503")
        func unavailableWhenAllServicesRefuse() async throws {
            let gone = try await TestBackend.start(.echo)
            await gone.kill()
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: web
                    bind: 127.0.0.1:0
                    mode: http
                    services: [{ name: s, address: 127.0.0.1, port: \(gone.port), capacity: 10 }]
                """
            try await withTrafficManager(yaml) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "web")))
                try await client.send(Array("GET / HTTP/1.1\r\nHost: web\r\n\r\n".utf8))
                let answer = String(decoding: try await client.receiveUntilEnd(), as: UTF8.self)
                #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
                #expect(manager.vServer("web")?.usage.snapshot.connectFailures == 1)
                await client.close()
            }
        }

        @Test("TCP: when the whole chain is full, the connection is refused (closed, nothing relayed)")
        func refuseWhenChainFull() async throws {
            let echo = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: db
                    bind: 127.0.0.1:0
                    services: [{ name: s, address: 127.0.0.1, port: \(echo.port), capacity: 10 }]
                    spillover: { kind: connection, limit: 1 }
                """
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "db"))
                let first = try await ProxyTests.Spillover.hold(address)
                let second = try await TestConnection.connect(to: address)
                try? await second.send([1, 2, 3])
                #expect(try await second.receiveUntilEnd().isEmpty)
                #expect(echo.acceptedCount == 1)
                await first.close()
                await second.close()
            }
        }
    }
}
