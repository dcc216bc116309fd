import Foundation
import Logging
import TMSCore
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// Client -> service stickiness (`stickiness:` on a vServer): real sockets, real backends,
    /// clients told apart by their loopback source address.
    @Suite(.serialized) struct Stickiness {
        static func config(_ a: TestBackend, _ b: TestBackend, stickiness: String = "60s", store: String = "") -> String {
            """
            admin: { enabled: false }
            \(store)
            vServers:
              - name: web
                bind: 127.0.0.1:0
                stickiness: \(stickiness)
                services:
                  - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 1000 }
                  - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 1000 }
            """
        }

        static func stuck(_ manager: TrafficManager, _ client: String) -> String? {
            manager.vServer("web")?.stickiness?.withLock { $0.target(for: client, now: MonotonicTime.now())?.name }
        }

        /// `count` connections from `client`; how many each backend accepted meanwhile.
        static func connect(_ manager: TrafficManager, from client: String, count: Int, _ a: TestBackend, _ b: TestBackend) async throws -> (Int, Int) {
            let address = try #require(manager.listeningAddress(of: "web"))
            let (a0, b0) = (a.acceptedCount, b.acceptedCount)
            for n in 0..<count { _ = try await TestConnection.echo([UInt8(n & 0xff)], via: address, from: client) }
            return (a.acceptedCount - a0, b.acceptedCount - b0)
        }

        @Test("a client's connections go to one service (round robin without); a service that goes away gives it another, which it keeps")
        func aClientSticksToItsService() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(a, b), cores: 2) { manager in
                let first = try await Self.connect(manager, from: "127.0.0.5", count: 12, a, b)
                #expect(first == (12, 0) || first == (0, 12), "\(first)")
                let other = try await Self.connect(manager, from: "127.0.0.6", count: 12, a, b)
                #expect(other == (12, 0) || other == (0, 12), "\(other)")
                // The session store's usage task: two clients' pins held, two written.
                let report = await manager.sampleUsage()
                let store = try #require(report.tasks.first { $0.name == "sessionstore" }, "\(report.tasks.map(\.name))")
                #expect(store.task == "session-store" && store.kind == .sessionStore)
                #expect(store.totals.activeConnections == 2 && store.totals.connections == 2, "\(store.totals)")
                let service = try #require(Self.stuck(manager, "127.0.0.5"))
                #expect(service == (first.0 == 12 ? "a" : "b"))
                // Its service goes away: the next connection fails over and the client sticks there.
                let (gone, kept) = service == "a" ? (a, b) : (b, a)
                await gone.kill()
                let after = try await Self.connect(manager, from: "127.0.0.5", count: 6, a, b)
                #expect((service == "a" ? after.1 : after.0) == 6, "\(after)")
                #expect(Self.stuck(manager, "127.0.0.5") == (service == "a" ? "b" : "a"))
                try await gone.restart()
                let back = try await Self.connect(manager, from: "127.0.0.5", count: 6, a, b)
                #expect((service == "a" ? back.1 : back.0) == 6, "it stays with the service it moved to: \(back)")
                _ = kept
            }
            // Without stickiness the same client is spread.
            let plain = Self.config(a, b).replacingOccurrences(of: "    stickiness: 60s\n", with: "")
            try await withTrafficManager(plain, cores: 1) { manager in
                let spread = try await Self.connect(manager, from: "127.0.0.5", count: 12, a, b)
                #expect(spread == (6, 6), "\(spread)")
                #expect(await manager.sampleUsage().tasks.contains { $0.name == "sessionstore" } == false, "no table, no task")
            }
            await a.kill()
            await b.kill()
        }

        @Test("stickiness ends its timeout after the client's last connection, and survives a reload")
        func expiresAndSurvivesReload() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(a, b, stickiness: "1s"), cores: 1) { manager in
                _ = try await Self.connect(manager, from: "127.0.0.5", count: 1, a, b)
                let service = try #require(Self.stuck(manager, "127.0.0.5"))
                _ = try await manager.reload(try TMSConfig.parse(Self.config(a, b, stickiness: "2s"), file: "r.yaml"))
                #expect(Self.stuck(manager, "127.0.0.5") == service, "a reload dropped the stickiness")
                try await Task.sleep(for: .milliseconds(1_300))
                #expect(Self.stuck(manager, "127.0.0.5") == nil, "still stuck after its timeout")
            }
            await a.kill()
            await b.kill()
        }

        @Test("bad stickiness values are one line naming the key")
        func badValues() {
            for value in ["0s", "2d", "soon", "-1s"] {
                do {
                    _ = try TMSConfig.parse("""
                        vServers: [{ name: web, stickiness: \(value), services: [{ address: "127.0.0.1:1", capacity: 1 }] }]
                        """, file: "t.yaml")
                    Issue.record("stickiness \(value) was accepted")
                } catch {
                    #expect("\(error)".contains("stickiness"), "\(error)")
                }
            }
        }

        /// Shared through a session store (table `web/services`): a client stuck to a service by
        /// one traffic manager goes to it through another, whose balancer would pick the other.
        @Test("two traffic managers share stickiness through a session store")
        func sharedThroughASessionStore() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("store", ips: ["127.0.0.1"])
            try pki.issue("tm", ips: [])
            let master = try await SessionStore.member(pki)
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            let yaml = Self.config(a, b, store: "sessionStore: { connect: \"\(master.address)\", tls: \(pki.yaml("tm")) }")
            try await withTrafficManager(yaml, cores: 1) { one in
                try await withTrafficManager(yaml, cores: 1) { two in
                    #expect(await eventually { one.sessionStoreStatus?.connected == true && two.sessionStoreStatus?.connected == true })
                    // Through one: .8 gets service a (the first pick), .7 gets b.
                    let eight = try await Self.connect(one, from: "127.0.0.8", count: 1, a, b)
                    let seven = try await Self.connect(one, from: "127.0.0.7", count: 1, a, b)
                    #expect(eight == (1, 0) && seven == (0, 1), "\(eight) \(seven)")
                    #expect(await eventually { Self.stuck(two, "127.0.0.7") == "b" }, "two never learnt one's stickiness")
                    // Through two, whose first pick would be a: .7 goes to b.
                    let through = try await Self.connect(two, from: "127.0.0.7", count: 3, a, b)
                    #expect(through == (0, 3), "\(through)")
                    #expect(await master.state.pins == 2)
                }
            }
            await master.close()
            await a.kill()
            await b.kill()
        }
    }
}
