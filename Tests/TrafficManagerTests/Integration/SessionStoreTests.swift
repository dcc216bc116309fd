import Foundation
import Logging
import TMSCore
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// Spillover persistence shared through a session-store cluster on loopback (real sockets,
    /// mutual TLS): two traffic managers, a master and a servant. A client pinned by one is
    /// pinned in the other; the master is lost and the servant promoted with every acknowledged
    /// pin; with the cluster gone, each goes on with its local table; a master that requires a
    /// servant refuses writes without one.
    @Suite(.serialized) struct SessionStore {
        static func config(primary: TestBackend, backup: TestBackend, store: HostPort, tls: String) -> String {
            """
            admin: { enabled: false }
            sessionStore: { connect: "\(store)", tls: \(tls) }
            vServers:
              - name: primary
                bind: 127.0.0.1:0
                services: [{ name: p, address: 127.0.0.1, port: \(primary.port), capacity: 1000 }]
                spillover: { kind: connection, limit: 1, persistence: 60s, backup: backup }
              - name: backup
                services: [{ name: b, address: 127.0.0.1, port: \(backup.port), capacity: 1000 }]
            """
        }

        static func member(_ pki: TestPKI, port: Int = 0, replicaOf: HostPort? = nil, minReplicas: Int = 0) async throws -> SessionStoreServer {
            try await SessionStoreServer.start(.init(listen: HostPort(host: "127.0.0.1", port: port),
                                                     tls: TLSConfig(certificate: pki.path("store-cert.pem"), key: pki.path("store-key.pem"), ca: pki.path("ca.pem")),
                                                     replicaOf: replicaOf, minReplicas: minReplicas), logger: Logger(label: "store"))
        }

        static func pinned(_ manager: TrafficManager, _ client: String) -> String? {
            manager.vServer("primary")?.persistence?.withLock { $0.target(for: client, now: MonotonicTime.now())?.name }
        }

        /// Client `source` spills to the backup through `manager` (the primary is held full).
        static func spill(_ manager: TrafficManager, from source: String) async throws {
            let address = try #require(manager.listeningAddress(of: "primary"))
            let filler = try await ProxyTests.Spillover.hold(address, from: "127.0.0.250")
            _ = try await TestConnection.echo([1], via: address, from: source)
            await filler.close()
            #expect(await eventually { manager.vServer("primary")?.quota.totalInUse == 0 })
        }

        @Test("two traffic managers share pins; the master is lost, the servant promoted holds every acknowledged pin; without the cluster the local tables go on")
        func sharedAcrossInstancesAndAPromotion() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("store", ips: ["127.0.0.1"])
            try pki.issue("tm", ips: [])
            var master = try await Self.member(pki)
            let servant = try await Self.member(pki, replicaOf: master.address, minReplicas: 0)
            #expect(await eventually(timeout: .seconds(5)) { await master.state.replicasInSync == 1 }, "the servant never got in sync")
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            let yaml = Self.config(primary: primary, backup: backup, store: master.address, tls: pki.yaml("tm"))
            try await withTrafficManager(yaml, cores: 2) { a in
                try await withTrafficManager(yaml, cores: 2) { b in
                    #expect(await eventually { a.sessionStoreStatus?.connected == true && b.sessionStoreStatus?.connected == true })
                    // A pins client .2; B learns it (and the servant holds it before A's write is acknowledged).
                    try await Self.spill(a, from: "127.0.0.2")
                    #expect(Self.pinned(a, "127.0.0.2") == "backup")
                    #expect(await eventually { Self.pinned(b, "127.0.0.2") == "backup" }, "B never learnt A's pin")
                    #expect(await eventually { a.sessionStoreStatus?.acknowledged == 1 })
                    #expect(await servant.state.pins == 1)
                    // B's next connection from .2 goes to the backup although the primary is free.
                    let before = backup.acceptedCount
                    _ = try await TestConnection.echo([2], via: try #require(b.listeningAddress(of: "primary")), from: "127.0.0.2")
                    #expect(backup.acceptedCount == before + 1, "B did not honour the shared pin")

                    // The master is lost; the servant is promoted (what cvmctl tms run does when
                    // the orchestrator promotes it) and the traffic managers follow it.
                    await master.close()
                    try await servant.configure(.init(listen: servant.address, replicaOf: nil))
                    master = servant
                    let moved = Self.config(primary: primary, backup: backup, store: servant.address, tls: pki.yaml("tm"))
                    for manager in [a, b] { _ = try await manager.reload(try TMSConfig.parse(moved, file: "moved.yaml")) }
                    #expect(await eventually { a.sessionStoreStatus?.connected == true && b.sessionStoreStatus?.connected == true })
                    #expect(await servant.state.pins == 1, "the promoted servant lost the acknowledged pin")
                    // B pins .3 through the new master; A learns it.
                    try await Self.spill(b, from: "127.0.0.3")
                    #expect(await eventually { Self.pinned(a, "127.0.0.3") == "backup" }, "A never learnt B's pin via the new master")
                    #expect(Self.pinned(a, "127.0.0.2") == "backup", "A's own pin survived the switch")

                    // The cluster is gone: each goes on with its local table.
                    await servant.close()
                    #expect(await eventually { a.sessionStoreStatus?.connected == false })
                    try await Self.spill(a, from: "127.0.0.4")
                    #expect(Self.pinned(a, "127.0.0.4") == "backup" && Self.pinned(a, "127.0.0.3") == "backup")
                }
            }
            await primary.kill()
            await backup.kill()
        }

        @Test("a master that requires a servant refuses writes while none is in sync; the local table keeps the pin")
        func replicationRequired() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("store", ips: ["127.0.0.1"])
            try pki.issue("tm", ips: [])
            let master = try await Self.member(pki, minReplicas: 1)
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(primary: primary, backup: backup, store: master.address, tls: pki.yaml("tm")), cores: 1) { a in
                #expect(await eventually { a.sessionStoreStatus?.connected == true })
                try await Self.spill(a, from: "127.0.0.2")
                #expect(await eventually { a.sessionStoreStatus?.refused == 1 }, "\(String(describing: a.sessionStoreStatus))")
                #expect(a.sessionStoreStatus?.lastRefusal?.contains("replication required") == true, "\(String(describing: a.sessionStoreStatus))")
                #expect(Self.pinned(a, "127.0.0.2") == "backup")
                #expect(await master.state.pins == 0)
                // A servant joins: writes are taken again.
                let servant = try await Self.member(pki, replicaOf: master.address)
                #expect(await eventually(timeout: .seconds(5)) { await master.state.replicasInSync == 1 })
                try await Self.spill(a, from: "127.0.0.3")
                #expect(await eventually { a.sessionStoreStatus?.acknowledged == 1 })
                #expect(await servant.state.pins == 1)
                await servant.close()
            }
            await master.close()
            await primary.kill()
            await backup.kill()
        }

        @Test("benchmark: a session lookup at the store (a round trip to the master) next to the local table")
        func lookupLatency() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("store", ips: ["127.0.0.1"])
            try pki.issue("tm", ips: [])
            let master = try await Self.member(pki)
            let servant = try await Self.member(pki, replicaOf: master.address)
            #expect(await eventually(timeout: .seconds(5)) { await master.state.replicasInSync == 1 })
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(primary: primary, backup: backup, store: master.address, tls: pki.yaml("tm")), cores: 1) { a in
                #expect(await eventually { a.sessionStoreStatus?.connected == true })
                try await Self.spill(a, from: "127.0.0.2")
                #expect(await eventually { a.sessionStoreStatus?.acknowledged == 1 })
                func percentiles(_ samples: [Double]) -> (Double, Double) {
                    let sorted = samples.sorted()
                    return (sorted[sorted.count / 2], sorted[sorted.count * 99 / 100])
                }
                var remote: [Double] = [], local: [Double] = []
                let clock = ContinuousClock()
                for _ in 0..<2000 {
                    let start = clock.now
                    let target = try await a.sessionStoreLookup(vServer: "primary", client: "127.0.0.2")
                    remote.append(Double((clock.now - start).components.attoseconds) / 1e12)
                    #expect(target == "backup")
                    let localStart = clock.now
                    _ = Self.pinned(a, "127.0.0.2")
                    local.append(Double((clock.now - localStart).components.attoseconds) / 1e12)
                }
                let (r50, r99) = percentiles(remote), (l50, l99) = percentiles(local)
                print("SessionStore: lookup p50/p99 at the store (loopback, mTLS, a master with one servant) \(String(format: "%.1f", r50))/\(String(format: "%.1f", r99)) µs, local table \(String(format: "%.2f", l50))/\(String(format: "%.2f", l99)) µs (ratio p50 \(String(format: "%.0f", r50 / max(l50, 0.001))))")
            }
            await servant.close()
            await master.close()
            await primary.kill()
            await backup.kill()
        }
    }
}
