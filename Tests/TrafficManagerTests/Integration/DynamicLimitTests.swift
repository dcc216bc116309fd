import Testing
import TMSCore
@testable import TrafficManager

extension ProxyTests {
    @Suite struct DynamicLimit {
        static let interval = 100, fall = 2, rise = 2

        static func config(_ a: TestBackend, _ b: TestBackend) -> String {
            """
            admin: { enabled: false }
            monitors:
              - name: connect
                kind: tcp
                interval: \(interval)ms
                timeout: 50ms
                fall: \(fall)
                rise: \(rise)
            vServers:
              - name: web
                bind: 127.0.0.1:0
                monitor: connect
                services:
                  - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 3 }
                  - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 5 }
                spillover: { kind: dynamic }
            """
        }

        @Test("a killed backend lowers the dynamic limit by its capacity within fall x interval; back up, it restores it")
        func killedBackendLowersLimit() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(a, b)) { manager in
                let vServer = try #require(manager.vServer("web"))
                #expect(vServer.quota.sizing.limit == 8)
                // Let a few probes pass so the monitor is in its steady rhythm.
                try await Task.sleep(for: .milliseconds(250))

                let killed = ContinuousClock.now
                await b.kill()
                #expect(await eventually(timeout: .seconds(3)) { vServer.quota.sizing.limit == 3 })
                let down = ContinuousClock.now - killed
                // fall probes, one interval apart, the first at most one interval after the kill;
                // plus scheduling slack on a shared 2-core machine.
                #expect(down <= .milliseconds(Self.fall * Self.interval + 100), "took \(down)")
                #expect(vServer.services[1].isUp == false)

                // Only services that are up are picked: every connection goes to a.
                let acceptedBefore = a.acceptedCount
                for seed in 0..<6 {
                    let data = payload(seed: UInt64(seed), count: 1000)
                    #expect(try await TestConnection.echo(data, via: #require(manager.listeningAddress(of: "web"))) == data)
                }
                // (a also accepts the monitor's probes, hence >=.)
                #expect(a.acceptedCount - acceptedBefore >= 6)
                #expect(vServer.usage.snapshot.connectFailures == 0, "no connection was tried on the dead service")

                let revived = ContinuousClock.now
                try await b.restart()
                #expect(await eventually(timeout: .seconds(3)) { vServer.quota.sizing.limit == 8 })
                let up = ContinuousClock.now - revived
                #expect(up <= .milliseconds(Self.rise * Self.interval + 100), "took \(up)")
                #expect(vServer.services[1].isUp)
            }
        }

        @Test("while a dead service's limit is gone, connections beyond the remaining capacity are refused (TCP)")
        func limitFollowsHealth() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(a, b), cores: 1) { manager in
                let vServer = try #require(manager.vServer("web"))
                await b.kill()
                #expect(await eventually(timeout: .seconds(3)) { vServer.quota.sizing.limit == 3 })
                let address = try #require(manager.listeningAddress(of: "web"))
                var held: [TestConnection] = []
                for _ in 1...3 { held.append(try await ProxyTests.Spillover.hold(address)) }
                // The 4th: no backup, TCP mode: refused (closed without a byte).
                let refused = try await TestConnection.connect(to: address)
                let got = try await refused.receiveUntilEnd()
                #expect(got.isEmpty)
                #expect(vServer.usage.snapshot.refusals == 1)
                for connection in held + [refused] { await connection.close() }
            }
        }

        @Test("an HTTP monitor marks a service down when it answers slower than its response-time limit")
        func httpMonitorResponseTime() async throws {
            let slow = try await TestBackend.start(.http(status: 200, delay: .zero))
            let yaml = """
                admin: { enabled: false }
                monitors:
                  - { name: web-check, kind: http, path: /health, interval: 50ms, timeout: 500ms, fall: 2, rise: 1, responseTimeLimit: 40ms }
                vServers:
                  - name: web
                    bind: 127.0.0.1:0
                    mode: http
                    monitor: web-check
                    services: [{ name: s, address: 127.0.0.1, port: \(slow.port), capacity: 7 }]
                """
            try await withTrafficManager(yaml) { manager in
                let vServer = try #require(manager.vServer("web"))
                try await Task.sleep(for: .milliseconds(200))
                #expect(vServer.services[0].isUp)
                slow.delayMilliseconds.store(120, ordering: .relaxed)
                #expect(await eventually(timeout: .seconds(3)) { !vServer.services[0].isUp })
                // (The service's state and the quota's size are two updates: the size may follow a moment later.)
                #expect(await eventually(timeout: .seconds(3)) { vServer.quota.sizing.limit == 0 })
                slow.delayMilliseconds.store(0, ordering: .relaxed)
                #expect(await eventually(timeout: .seconds(3)) { vServer.services[0].isUp })
                #expect(await eventually(timeout: .seconds(3)) { vServer.quota.sizing.limit == 7 })
            }
        }

        @Test("an HTTP monitor marks a service down on a response far slower than its running average")
        func httpMonitorDeviation() async throws {
            let backend = try await TestBackend.start(.http(status: 200, delay: .zero))
            let yaml = """
                admin: { enabled: false }
                monitors:
                  - { name: web-check, kind: http, interval: 30ms, timeout: 2s, fall: 1, rise: 1, deviation: 2000%, averageSpan: 50 }
                vServers:
                  - name: web
                    bind: 127.0.0.1:0
                    mode: http
                    monitor: web-check
                    services: [{ name: s, address: 127.0.0.1, port: \(backend.port), capacity: 7 }]
                """
            try await withTrafficManager(yaml) { manager in
                let vServer = try #require(manager.vServer("web"))
                // Build the running average (a few ms on loopback), then slow the service down.
                try await Task.sleep(for: .milliseconds(300))
                backend.delayMilliseconds.store(250, ordering: .relaxed)
                #expect(await eventually(timeout: .seconds(3)) { !vServer.services[0].isUp })
                let status = await manager.status()
                #expect(status.monitors.first?.lastVerdict?.contains("against an average") == true)
            }
        }
    }
}
