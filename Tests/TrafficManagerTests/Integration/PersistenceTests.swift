import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct Persistence {
        @Test("a client sent to the backup keeps going there for the persistence timeout, then returns to the primary")
        func persistenceHoldsForItsTimeout() async throws {
            let primary = try await TestBackend.start(.echo), backup = try await TestBackend.start(.echo)
            let timeout = 800
            let yaml = ProxyTests.Spillover.config(
                primary: primary, backup: backup,
                spillover: "      kind: connection\n      limit: 1\n      persistence: \(timeout)ms")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "primary"))
                // Another client fills the primary; client X spills and is pinned to the backup.
                let filler = try await ProxyTests.Spillover.hold(address, from: "127.0.0.3")
                let pinnedAt = ContinuousClock.now
                _ = try await TestConnection.echo([1], via: address, from: "127.0.0.2")
                #expect(backup.acceptedCount == 1)
                await filler.close()
                #expect(await eventually { manager.vServer("primary")?.quota.totalInUse == 0 })

                // The primary has room again, but X stays on the backup while pinned...
                _ = try await TestConnection.echo([2], via: address, from: "127.0.0.2")
                #expect(ContinuousClock.now - pinnedAt < .milliseconds(timeout), "the check ran within the timeout")
                #expect(backup.acceptedCount == 2)
                #expect(primary.acceptedCount == 1)
                // ...while another client goes to the primary.
                _ = try await TestConnection.echo([3], via: address, from: "127.0.0.4")
                #expect(primary.acceptedCount == 2)

                // After the timeout X is back on the primary.
                try await Task.sleep(until: pinnedAt + .milliseconds(timeout + 50))
                _ = try await TestConnection.echo([4], via: address, from: "127.0.0.2")
                #expect(primary.acceptedCount == 3)
                #expect(backup.acceptedCount == 2)
            }
        }
    }
}
