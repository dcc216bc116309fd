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

        @Test("least connections balances over every core: connections held one after another split exactly")
        func leastConnectionsAcrossCores() async throws {
            let a = try await TestBackend.start(.echo), b = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: lc
                    bind: 127.0.0.1:0
                    method: leastconn
                    services:
                      - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 100 }
                      - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 100 }
                """
            try await withTrafficManager(yaml, cores: 2) { manager in
                let address = try #require(manager.listeningAddress(of: "lc"))
                var held: [TestConnection] = []
                // Each connection is open end to end before the next: the kernel spreads them
                // over both cores, and only counts shared by the cores split them 20/20.
                for index in 0..<40 {
                    let connection = try await TestConnection.connect(to: address)
                    let data = payload(seed: UInt64(index + 1), count: 16)
                    try await connection.send(data)
                    #expect(try await connection.receive(atLeast: 16) == data)
                    held.append(connection)
                }
                #expect(a.acceptedCount == 20 && b.acceptedCount == 20, "a \(a.acceptedCount), b \(b.acceptedCount)")
                let services = try #require(manager.vServer("lc")?.services)
                #expect(services.map(\.openConnections) == [20, 20])
                // Close the first 20 (whichever services they went to): 20 new ones, one after
                // another, fill whichever service lost more, back to 20 each.
                for connection in held.prefix(20) { await connection.close() }
                held.removeFirst(20)
                #expect(await eventually { services[0].openConnections + services[1].openConnections == 20 })
                for _ in 0..<20 {
                    let connection = try await TestConnection.connect(to: address)
                    try await connection.send([1])
                    _ = try await connection.receive(atLeast: 1)
                    held.append(connection)
                }
                #expect(services.map(\.openConnections) == [20, 20])
                #expect(a.acceptedCount + b.acceptedCount == 60)
                for connection in held { await connection.close() }
                #expect(await eventually { services.allSatisfy { $0.openConnections == 0 } })
            }
        }
    }
}

