import NIOCore
import Testing
import TMSCore
@testable import TrafficManager

extension ProxyTests {
    /// Every way a connection can end releases its quota exactly once (checked after each
    /// test by `withTrafficManager`: in-use 0 and released == admitted on every vServer).
    @Suite struct ConnectionEnd {
        static func config(services: [TestBackend], idle: String = "5s", extra: String = "") -> String {
            """
            admin: { enabled: false }
            vServers:
              - name: tcp
                bind: 127.0.0.1:0
                idleTimeout: \(idle)
                connectTimeout: 500ms
                services:
            \(services.enumerated().map { "      - { name: s\($0.offset), address: 127.0.0.1, port: \($0.element.port), capacity: 100 }" }.joined(separator: "\n"))
            \(extra)
            """
        }

        @Test("client reset in the middle of a transfer")
        func clientReset() async throws {
            let echo = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(services: [echo])) { manager in
                let address = try #require(manager.listeningAddress(of: "tcp"))
                for _ in 0..<20 {
                    let client = try await TestConnection.connect(to: address)
                    try await client.send(payload(seed: 7, count: 64 * 1024))
                    _ = try await client.receive(atLeast: 1)
                    await client.reset()
                }
                #expect(await eventually { manager.vServer("tcp")?.quota.totalInUse == 0 })
                #expect(manager.vServer("tcp")?.quota.totalCounters.admitted == 20)
            }
        }

        @Test("backend refused: retried on another service; when every service refuses, the client is closed")
        func backendRefused() async throws {
            let alive = try await TestBackend.start(.echo)
            let dead1 = try await TestBackend.start(.echo), dead2 = try await TestBackend.start(.echo)
            await dead1.kill()
            await dead2.kill()
            try await withTrafficManager(Self.config(services: [dead1, alive, dead2])) { manager in
                let address = try #require(manager.listeningAddress(of: "tcp"))
                for seed in 0..<9 {
                    let data = payload(seed: UInt64(seed), count: 5000)
                    #expect(try await TestConnection.echo(data, via: address) == data)
                }
                #expect(alive.acceptedCount == 9, "every connection reached the one live service")
                #expect((manager.vServer("tcp")?.usage.snapshot.connectFailures ?? 0) > 0)
            }
            try await withTrafficManager(Self.config(services: [dead1, dead2])) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "tcp")))
                try? await client.send([1])
                #expect(try await client.receiveUntilEnd().isEmpty)
                #expect(manager.vServer("tcp")?.usage.snapshot.connectFailures == 2)
            }
        }

        @Test("idle timeout closes a connection with no traffic; traffic keeps it open")
        func idleTimeout() async throws {
            let echo = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(services: [echo], idle: "300ms")) { manager in
                let address = try #require(manager.listeningAddress(of: "tcp"))
                let idle = try await ProxyTests.Spillover.hold(address)
                let busy = try await ProxyTests.Spillover.hold(address)
                let started = ContinuousClock.now
                for round in 0..<6 {
                    try await Task.sleep(for: .milliseconds(100))
                    try await busy.send([UInt8(round)])
                }
                _ = try await busy.receive(atLeast: 7)
                #expect(!busy.inputEnded, "a connection with traffic every 100 ms stays open")
                _ = try await idle.receiveUntilEnd(timeout: .seconds(3))
                #expect(ContinuousClock.now - started >= .milliseconds(300))
                await busy.close()
            }
        }

        @Test("half-close: the client's FIN reaches the service, which still answers, then both ends close")
        func halfClose() async throws {
            let echo = try await TestBackend.start(.echo)
            // No idle timeout in reach: a host starved of CPU (ThreadSanitizer beside a build)
            // stalled this transfer past 5 s once, and the idle close cut it.
            try await withTrafficManager(Self.config(services: [echo], idle: "120s")) { manager in
                let address = try #require(manager.listeningAddress(of: "tcp"))
                let client = try await TestConnection.connect(to: address)
                let data = payload(seed: 99, count: 2_000_000)
                try await client.send(data)
                try await client.finishSending()
                // The echo service only closes after it read our FIN: everything must come back first.
                let echoed = try await client.receiveUntilEnd()
                #expect(echoed.count == data.count)
                #expect(checksum(echoed) == checksum(data))
                await client.close()
            }
        }

        @Test("a service that closes ends the client connection")
        func serviceCloses() async throws {
            let echo = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(services: [echo])) { manager in
                let client = try await ProxyTests.Spillover.hold(#require(manager.listeningAddress(of: "tcp")))
                await echo.kill()
                _ = try await client.receiveUntilEnd()
                await client.close()
            }
        }

        @Test("back-pressure: a service that reads nothing stalls the client instead of filling the proxy's memory")
        func backPressure() async throws {
            let sink = try await TestBackend.start(.sink)
            try await withTrafficManager(Self.config(services: [sink])) { manager in
                let client = try await TestConnection.connect(to: #require(manager.listeningAddress(of: "tcp")))
                let chunk = payload(seed: 1, count: 1 << 20)
                // Write 64 MiB without waiting; the writes cannot all complete.
                for _ in 0..<64 { client.channel.write(client.channel.allocator.buffer(bytes: chunk), promise: nil) }
                client.channel.flush()
                try await Task.sleep(for: .milliseconds(500))
                let relayedIn = manager.vServer("tcp")?.usage.snapshot.bytesIn ?? 0
                // What the proxy read is bounded by socket buffers and one write-buffer watermark,
                // far below what the client tried to send.
                #expect(relayedIn > 0)
                #expect(relayedIn < 24 << 20, "the proxy read \(relayedIn) bytes")
                try await Task.sleep(for: .milliseconds(300))
                #expect((manager.vServer("tcp")?.usage.snapshot.bytesIn ?? 0) == relayedIn, "reading stopped")
                await client.reset()
            }
        }
    }
}
