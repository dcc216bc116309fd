import Testing
import TMSCore
@testable import TrafficManager

extension ProxyTests {
    @Suite struct Spillover {
        /// Two vServers, the primary backing up to the backup; primary and backup each in
        /// front of their own echo backend, so the backends tell where each connection went.
        static func config(primary: TestBackend, backup: TestBackend, spillover: String) -> String {
            """
            admin: { enabled: false }
            vServers:
              - name: primary
                bind: 127.0.0.1:0
                services: [{ name: p, address: 127.0.0.1, port: \(primary.port), capacity: 1000 }]
                spillover:
            \(spillover)
                  backup: backup
              - name: backup
                services: [{ name: b, address: 127.0.0.1, port: \(backup.port), capacity: 1000 }]
            """
        }

        /// Opens a connection and proves it reaches a backend (one byte echoed).
        static func hold(_ address: HostPort, from source: String? = nil) async throws -> TestConnection {
            let connection = try await TestConnection.connect(to: address, from: source)
            try await connection.send([42])
            let echoed = try await connection.receive(atLeast: 1)
            #expect(echoed == [42])
            return connection
        }

        @Test("one core: the limit's connections go to the primary, the next one spills, and new ones return when usage falls")
        func spillsExactlyAtTheLimit() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            let yaml = Self.config(primary: primary, backup: backup, spillover: "      kind: connection\n      limit: 10")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                var held: [TestConnection] = []
                for number in 1...10 {
                    held.append(try await Self.hold(address))
                    #expect(primary.acceptedCount == number)
                    #expect(backup.acceptedCount == 0)
                }
                #expect(manager.vServer("primary")?.quota.totalInUse == 10)
                let spilled = try await Self.hold(address)
                #expect(primary.acceptedCount == 10)
                #expect(backup.acceptedCount == 1, "the 11th connection goes to the backup")
                #expect(manager.vServer("backup")?.quota.totalInUse == 1)

                await held.removeFirst().close()
                #expect(await eventually { manager.vServer("primary")?.quota.totalInUse == 9 })
                held.append(try await Self.hold(address))
                #expect(primary.acceptedCount == 11, "back under the threshold: the primary takes new connections again")
                #expect(backup.acceptedCount == 1)

                let usage = await manager.sampleUsage()
                #expect(usage.task("vserver/primary")?.totals.spills == 1)
                #expect(usage.task("vserver/backup")?.totals.connections == 1)
                for connection in held + [spilled] { await connection.close() }
            }
        }

        @Test("configured thresholds: T1 = 50% of the exclusive number with T2 = 100% of the shared pool spills from the 5th connection")
        func spillsAtConfiguredThresholds() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            // L = 10 on one core: exclusive 8, shared 2. T1 = 4, T2 = 2 (always met).
            let yaml = Self.config(primary: primary, backup: backup,
                                   spillover: "      kind: connection\n      limit: 10\n      t1: 50%\n      t2: 100%")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                var held: [TestConnection] = []
                for _ in 1...6 { held.append(try await Self.hold(address)) }
                #expect(primary.acceptedCount == 4)
                #expect(backup.acceptedCount == 2)
                for connection in held { await connection.close() }
            }
        }

        @Test("two cores with SO_REUSEPORT: a connection spills only when its core is at T1 and the shared pool is empty")
        func spillsPerCoreRule() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            // L = 20 on two cores: exclusive 8 per core, shared 4, batch 1.
            let yaml = Self.config(primary: primary, backup: backup, spillover: "      kind: connection\n      limit: 20")
            try await withTrafficManager(yaml, cores: 2) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                let quota = try #require(manager.vServer("primary")?.quota)
                var held: [TestConnection] = []
                for _ in 1...30 {
                    let before = quota.inspect()
                    let spillsBefore = backup.acceptedCount
                    held.append(try await Self.hold(address))
                    let after = quota.inspect()
                    #expect(after.totalInUse <= 20)
                    if backup.acceptedCount > spillsBefore {
                        // Spilled: some core was at its exclusive number with nothing left to borrow.
                        #expect(before.sharedAvailable == 0)
                        #expect(before.cores.contains { $0.inUse >= 8 })
                        #expect(after.totalInUse == before.totalInUse)
                    } else {
                        #expect(after.totalInUse == before.totalInUse + 1)
                    }
                }
                #expect(primary.acceptedCount + backup.acceptedCount == 30)
                #expect(primary.acceptedCount >= 12, "one core's exclusive number plus the whole shared pool at least")
                #expect(primary.acceptedCount <= 20)
                for connection in held { await connection.close() }
            }
        }

        @Test("the backup receives the spilled connections' bytes and echoes them intact")
        func backupCarriesSpilledTraffic() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            let yaml = Self.config(primary: primary, backup: backup, spillover: "      kind: connection\n      limit: 0")
            try await withTrafficManager(yaml) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                for seed in 1...5 {
                    let data = payload(seed: UInt64(seed), count: 100_000)
                    let echoed = try await TestConnection.echo(data, via: address)
                    #expect(checksum(echoed) == checksum(data))
                }
                #expect(primary.acceptedCount == 0)
                #expect(backup.acceptedCount == 5)
                let usage = await manager.sampleUsage()
                #expect(usage.task("vserver/backup")?.totals.bytesIn == 500_000)
                #expect(usage.task("vserver/backup")?.totals.bytesOut == 500_000)
            }
        }
    }
}
