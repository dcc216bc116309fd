import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct Load {
        @Test("1,000 concurrent connections carry checksummed payloads intact")
        func thousandConcurrentConnections() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: load
                    bind: 127.0.0.1:0
                    method: leastconn
                    services:
                      - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 1000 }
                      - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 1000, weight: 2 }
                """
            try await withTrafficManager(yaml) { manager in
                let address = try #require(manager.listeningAddress(of: "load"))
                let count = 1000, size = 16 * 1024
                // Open all first, so the 1,000 are really concurrent, then transfer on all at once.
                let connections = try await withThrowingTaskGroup(of: TestConnection.self) { group in
                    for _ in 0..<count { group.addTask { try await TestConnection.connect(to: address) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(await eventually { manager.vServer("load")?.quota.totalInUse == count })
                let intact = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for (index, connection) in connections.enumerated() {
                        group.addTask {
                            let data = payload(seed: UInt64(index + 1), count: size)
                            try await connection.send(data)
                            try await connection.finishSending()
                            let echoed = try await connection.receiveUntilEnd(timeout: .seconds(30))
                            return echoed.count == size && checksum(echoed) == checksum(data)
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(intact == count)
                #expect(a.acceptedCount + b.acceptedCount == count)
                #expect(b.acceptedCount > a.acceptedCount, "weight 2 takes more (\(b.acceptedCount) vs \(a.acceptedCount))")
                for connection in connections { await connection.close() }
                let usage = await manager.sampleUsage()
                #expect(usage.task("vserver/load")?.totals.bytesIn == count * size)
                #expect(usage.task("vserver/load")?.totals.bytesOut == count * size)
            }
        }
    }
}
