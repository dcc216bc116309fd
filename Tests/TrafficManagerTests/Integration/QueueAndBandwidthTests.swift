import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct QueueAndBandwidth {
        @Test("with no quota a connection waits in the queue: served when a use ends, refused when full, gone after its timeout")
        func queue() async throws {
            let echo = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: q
                    bind: 127.0.0.1:0
                    services: [{ name: s, address: 127.0.0.1, port: \(echo.port), capacity: 10 }]
                    spillover: { kind: connection, limit: 1, queue: { size: 1, timeout: 400ms } }
                """
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "q"))
                let vServer = try #require(manager.vServer("q"))
                let first = try await ProxyTests.Spillover.hold(address)
                let waiting = try await TestConnection.connect(to: address)
                try await waiting.send([1])
                #expect(await eventually { vServer.quota.inspect().waiting == 1 })
                // The queue holds one: the next is refused at once.
                let refused = try await TestConnection.connect(to: address)
                #expect(try await refused.receiveUntilEnd(timeout: .seconds(2)).isEmpty)
                #expect(echo.acceptedCount == 1)

                await first.close()
                #expect(try await waiting.receive(atLeast: 1) == [1], "served when the first connection ended")
                #expect(echo.acceptedCount == 2)

                let expires = try await TestConnection.connect(to: address)
                #expect(await eventually { vServer.quota.inspect().waiting == 1 })
                let queuedAt = ContinuousClock.now
                _ = try await expires.receiveUntilEnd(timeout: .seconds(3))
                let waited = ContinuousClock.now - queuedAt
                #expect(waited >= .milliseconds(300), "waited \(waited)")
                #expect(vServer.quota.totalCounters.expired == 1)
                #expect(vServer.usage.snapshot.queued == 2)
                for connection in [waiting, refused, expires] { await connection.close() }
            }
        }

        @Test("routing: request: a request waits in the queue, is served when a use ends, gets 503 when the queue is full or its wait runs out")
        func requestQueue() async throws {
            let service = try await RecordingHTTPService.start("s")
            let yaml = ProxyTests.PerRequest.yaml([service], extra: "    spillover: { kind: connection, limit: 1, queue: { size: 1, timeout: 400ms } }")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let vServer = try #require(manager.vServer("web"))
                // Counting connections: the first client's connection holds the only use.
                let first = try await HTTPClient(address)
                #expect(try await ProxyTests.PerRequest.exchange(first, "GET /a HTTP/1.1\r\nHost: w\r\n\r\n").status == 200)
                let waiting = try await HTTPClient(address)
                try await waiting.connection.send(Array("GET /b HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                #expect(await eventually { vServer.quota.inspect().waiting == 1 })
                // The queue holds one: the next request is answered 503 at once.
                let full = try await HTTPClient(address)
                #expect(try await ProxyTests.PerRequest.exchange(full, "GET /c HTTP/1.1\r\nHost: w\r\n\r\n").status == 503)
                #expect(service.requests == 1)
                // The first connection ends: its use serves the waiting request.
                await first.connection.close()
                let served = try await waiting.next()
                #expect(served.status == 200 && served.body.contains("path=/b "), "\(served.body)")
                // Another waits while that connection holds the use, and its wait runs out.
                let expires = try await HTTPClient(address)
                let queuedAt = ContinuousClock.now
                try await expires.connection.send(Array("GET /d HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                #expect(try await expires.next().status == 503)
                let waited = ContinuousClock.now - queuedAt
                #expect(waited >= .milliseconds(300), "waited \(waited)")
                #expect(vServer.quota.totalCounters.expired == 1)
                #expect(vServer.usage.snapshot.queued == 2)
                #expect(service.requests == 2)
                for client in [waiting, full, expires] { await client.connection.close() }
            }
        }

        @Test("routing: request counting requests: a queued request is served as the response holding the use ends")
        func requestQueueCountingRequests() async throws {
            let service = try await RecordingHTTPService.start("s", delayFirstMilliseconds: 300)
            let yaml = ProxyTests.PerRequest.yaml([service], extra: "    spillover: { kind: connection, limit: 1, queue: { size: 4, timeout: 10s } }",
                                                  quotaCounts: "requests")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                let vServer = try #require(manager.vServer("web"))
                let slow = try await HTTPClient(address)
                try await slow.connection.send(Array("GET /slow HTTP/1.1\r\nHost: w\r\n\r\n".utf8))
                #expect(await eventually { vServer.quota.totalInUse == 1 })
                let queued = try await HTTPClient(address)
                // A body sent while the request waits goes on with it.
                try await queued.connection.send(Array("POST /queued HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\n\r\nhello".utf8))
                #expect(await eventually { vServer.quota.inspect().waiting == 1 })
                #expect(try await slow.next().status == 200)
                let answer = try await queued.next()
                #expect(answer.status == 200 && answer.body.contains("path=/queued ") && answer.body.contains("received=5 "), "\(answer.body)")
                // The slow client's connection stays open and holds no use between requests.
                #expect(await eventually { vServer.quota.totalInUse == 0 })
                #expect(try await ProxyTests.PerRequest.exchange(slow, "GET /again HTTP/1.1\r\nHost: w\r\n\r\n").status == 200)
                await slow.connection.close()
                await queued.connection.close()
            }
        }

        @Test("a limit raised by a monitor serves the waiting connections at once")
        func raisedLimitServesWaiters() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                monitors: [{ name: m, kind: tcp, interval: 50ms, timeout: 50ms, fall: 1, rise: 1 }]
                vServers:
                  - name: q
                    bind: 127.0.0.1:0
                    monitor: m
                    services:
                      - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 1 }
                      - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 1 }
                    spillover: { kind: dynamic, queue: { size: 5, timeout: 5s } }
                """
            try await withTrafficManager(yaml, cores: 1) { manager in
                let vServer = try #require(manager.vServer("q"))
                await b.kill()
                #expect(await eventually { vServer.quota.sizing.limit == 1 })
                let address = try #require(manager.listeningAddress(of: "q"))
                let first = try await ProxyTests.Spillover.hold(address)
                let waiting = try await TestConnection.connect(to: address)
                try await waiting.send([5])
                #expect(await eventually { vServer.quota.inspect().waiting == 1 })
                try await b.restart()
                #expect(try await waiting.receive(atLeast: 1, timeout: .seconds(3)) == [5], "served by the limit's rise, not by a release")
                #expect(!first.inputEnded)
                await first.close()
                await waiting.close()
            }
        }

        @Test("bandwidth spillover: once the interval's byte budget is used up, new connections go to the backup")
        func bandwidth() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            // 2,000 bytes per 5 s interval.
            let yaml = ProxyTests.Spillover.config(
                primary: primary, backup: backup,
                spillover: "      kind: bandwidth\n      bytesPerSecond: 400\n      bandwidthInterval: 5s")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                let data = payload(seed: 3, count: 20_000)
                #expect(try await TestConnection.echo(data, via: address) == data, "a connection is never cut by the budget")
                #expect(primary.acceptedCount == 1)
                _ = try await TestConnection.echo([1], via: address)
                #expect(backup.acceptedCount == 1, "the budget of this interval is used up: spilled")
                #expect(primary.acceptedCount == 1)
                #expect((manager.vServer("primary")?.bandwidth?.counters(core: 0).deniedBytes ?? 0) > 0)
            }
        }
    }
}
