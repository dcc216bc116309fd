import Foundation
import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct Reload {
        static func yaml(_ vServers: String, drain: String = "400ms", tokenFile: String = freshTokenFile()) -> String {
            "admin: { address: 127.0.0.1:0, tokenFile: \"\(tokenFile)\" }\ndrainTimeout: \(drain)\nvServers:\n" + vServers
        }

        static func vServer(_ name: String, _ backend: TestBackend, limit: Int = 100, port: Int = 0) -> String {
            """
              - name: \(name)
                bind: 127.0.0.1:\(port)
                services: [{ name: s, address: 127.0.0.1, port: \(backend.port), capacity: 100 }]
                spillover: { kind: connection, limit: \(limit) }

            """
        }

        @Test("reload adds, changes and removes vServers; live connections survive, those of removed vServers drain")
        func reloadKeepsConnections() async throws {
            let echo = try await TestBackend.start(.echo)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("tms-reload-\(UUID().uuidString).yaml").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            let tokenFile = freshTokenFile()
            let first = Self.yaml(Self.vServer("keep", echo, limit: 5) + Self.vServer("gone", echo), tokenFile: tokenFile)
            try first.write(toFile: file, atomically: true, encoding: .utf8)
            let manager = TrafficManager(config: try TMSConfig.load(file: file), configFile: file, cores: 2)
            try await manager.start()
            do {
                let keepAddress = try #require(manager.listeningAddress(of: "keep"))
                let goneAddress = try #require(manager.listeningAddress(of: "gone"))
                let onKeep = try await ProxyTests.Spillover.hold(keepAddress)
                let onGone = try await ProxyTests.Spillover.hold(goneAddress)
                let keepQuota = try #require(manager.vServer("keep")?.quota)

                // Change keep's limit (same port), remove gone, add new.
                let second = Self.yaml(Self.vServer("keep", echo, limit: 9, port: keepAddress.port) + Self.vServer("new", echo),
                                       tokenFile: tokenFile)
                try second.write(toFile: file, atomically: true, encoding: .utf8)
                let summary = try await manager.reloadFromFile()
                #expect(summary.generation == 2)
                #expect(summary.added == ["new"])
                #expect(summary.changed == ["keep"])
                #expect(summary.removed == ["gone"])

                // keep: same quota object, new limit, the live connection still counted and working.
                #expect(manager.vServer("keep")?.quota === keepQuota)
                #expect(keepQuota.sizing.limit == 9)
                #expect(keepQuota.totalInUse == 1)
                try await onKeep.send([7])
                #expect(try await onKeep.receive(atLeast: 2) == [42, 7])
                #expect(manager.listeningAddress(of: "keep") == keepAddress)

                // new listens; gone no longer accepts, but its connection still relays...
                let newAddress = try #require(manager.listeningAddress(of: "new"))
                #expect(try await TestConnection.echo([5], via: newAddress) == [5])
                await #expect(throws: (any Error).self) { _ = try await TestConnection.connect(to: goneAddress) }
                try await onGone.send([8])
                #expect(try await onGone.receive(atLeast: 2) == [42, 8])
                #expect(await manager.status().vServer("gone")?.draining == true)
                // ...until the drain timeout closes it.
                _ = try await onGone.receiveUntilEnd(timeout: .seconds(3))

                // The admin endpoint reloads too; a broken file is refused and changes nothing.
                try "vServers: [ { name: broken, bogus: 1 } ]".write(toFile: file, atomically: true, encoding: .utf8)
                let admin = try #require(manager.adminAddress)
                let token = try adminToken(tokenFile)
                let refused = try await AdminClient.request(.POST, "/reload", to: admin, token: token)
                #expect(refused.status == 400)
                #expect(refused.text.contains("bogus"))
                #expect(manager.table?.generation == 2)
                try second.write(toFile: file, atomically: true, encoding: .utf8)
                let accepted = try await AdminClient.request(.POST, "/reload", to: admin, token: token)
                #expect(accepted.status == 200)
                #expect(manager.table?.generation == 3)
                #expect(manager.vServer("keep")?.quota === keepQuota)

                await onKeep.close()
                await expectQuotaReturnsToZero(manager)
                #expect(await eventually { await manager.status().vServer("gone") == nil || manager.vServer("gone") == nil })
            } catch {
                await manager.shutdown()
                throw error
            }
            await manager.shutdown()
        }

        @Test("a reload that cannot bind its new address changes nothing")
        func failedReloadChangesNothing() async throws {
            let echo = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.yaml(Self.vServer("a", echo, limit: 5))) { manager in
                // The admin endpoint's port is bound without SO_REUSEPORT: b cannot listen there.
                let admin = try #require(manager.adminAddress)
                let clash = try TMSConfig.parse(Self.yaml(Self.vServer("a", echo, limit: 9) + Self.vServer("b", echo, port: admin.port)), file: "x")
                await #expect(throws: TrafficManagerError.self) { try await manager.reload(clash) }
                #expect(manager.table?.generation == 1)
                #expect(manager.vServer("a")?.quota.sizing.limit == 5)
                #expect(manager.vServer("b") == nil)
            }
        }

        @Test("a client that connects while a reload adds its vServer is served, never accepted and refused")
        func clientConnectingDuringReloadIsServed() async throws {
            let echo = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.yaml(Self.vServer("a", echo))) { manager in
                let port = freeLoopbackPort()
                // Five rounds: a client connects in a tight loop while b is added (its first
                // connect that succeeds lands in the window between listen and publish, if there
                // is one), then b is removed again.
                for round in 0..<5 {
                    let outcome = Locked<String?>(nil)
                    let client = Thread {
                        outcome.withLock { $0 = echoOnFirstConnect(port: port, payload: "round \(round)") }
                    }
                    client.start()
                    try await Task.sleep(for: .milliseconds(5))
                    try await manager.reload(TMSConfig.parse(Self.yaml(Self.vServer("a", echo) + Self.vServer("b", echo, port: port)), file: "x"))
                    #expect(await eventually { outcome.withLock { $0 } != nil })
                    #expect(outcome.withLock { $0 } == "round \(round)", "round \(round)")
                    try await manager.reload(TMSConfig.parse(Self.yaml(Self.vServer("a", echo)), file: "x"))
                }
            }
        }

        @Test("a file nested 5,000 levels deep is refused on reload and the configuration in force stays")
        func deepFileRefused() async throws {
            let echo = try await TestBackend.start(.echo)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("tms-deep-\(UUID().uuidString).yaml").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try Self.yaml(Self.vServer("a", echo, limit: 5)).write(toFile: file, atomically: true, encoding: .utf8)
            let manager = TrafficManager(config: try TMSConfig.load(file: file), configFile: file, cores: 2)
            try await manager.start()
            do {
                for hostile in ["vServers: " + String(repeating: "[", count: 5_000),
                                "vServers:\n" + String(repeating: "- ", count: 5_000) + "x\n",
                                Self.yaml(Self.vServer("a", echo, limit: 9)) + "#" + String(repeating: "x", count: 2 << 20)] {
                    try hostile.write(toFile: file, atomically: true, encoding: .utf8)
                    await #expect(throws: ConfigError.self) { _ = try await manager.reloadFromFile() }
                    #expect(manager.table?.generation == 1)
                    #expect(manager.vServer("a")?.quota.sizing.limit == 5)
                }
                let address = try #require(manager.listeningAddress(of: "a"))
                #expect(try await TestConnection.echo([3], via: address) == [3])
            } catch {
                await manager.shutdown()
                throw error
            }
            await expectQuotaReturnsToZero(manager)
            await manager.shutdown()
        }
    }
}

/// Connects to 127.0.0.1:`port` from 127.0.0.2 (so never to itself) until a connect succeeds
/// (at most 10 s), sends `payload` on that connection and returns what comes back before the
/// echo is complete or the connection ends ("refused" if nothing ever accepted).
private func echoOnFirstConnect(port: Int, payload: String) -> String {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var source = sockaddr_in(host: "127.0.0.2", port: 0)
        var target = sockaddr_in(host: "127.0.0.1", port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &source) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 } }
        guard bound else { return "cannot bind 127.0.0.2: errno \(errno)" }
        let connected = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) == 0 } }
        guard connected else { continue }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(payload.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { return "send failed: errno \(errno)" }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while received.count < bytes.count {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return "ended after \(received.count) bytes" }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }
    return "refused"
}

private extension sockaddr_in {
    init(host: String, port: Int) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &sin_addr)
    }
}
