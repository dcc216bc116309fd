import Foundation
import Testing
@testable import TrafficManager

extension ProxyTests {
    @Suite struct Lifecycle {
        static func yaml(_ echo: TestBackend, drain: String, tokenFile: String = freshTokenFile()) -> String {
            """
            admin: { address: 127.0.0.1:0, tokenFile: "\(tokenFile)" }
            drainTimeout: \(drain)
            vServers:
              - name: web
                bind: 127.0.0.1:0
                task: web-balancing
                services: [{ name: s, address: 127.0.0.1, port: \(echo.port), capacity: 100 }]
            """
        }

        @Test("graceful shutdown stops accepting, lets a live connection finish, and returns when it has")
        func shutdownDrains() async throws {
            let echo = try await TestBackend.start(.echo)
            let manager = TrafficManager(config: try TMSConfig.parse(Self.yaml(echo, drain: "10s"), file: "t"), cores: 2)
            try await manager.start()
            let address = try #require(manager.listeningAddress(of: "web"))
            let live = try await ProxyTests.Spillover.hold(address)
            let stopping = Task { await manager.shutdown() }
            #expect(await eventually {
                guard let accepted = try? await TestConnection.connect(to: address) else { return true }
                await accepted.close()
                return false
            }, "no longer accepting")
            try await live.send([2])
            #expect(try await live.receive(atLeast: 2) == [42, 2], "the live connection still relays")
            let started = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(200))
            await live.close()
            await stopping.value
            #expect(ContinuousClock.now - started < .seconds(5), "returned once the connection ended, not at the drain timeout")
            #expect(manager.table?.vServers["web"]?.quota.totalInUse == 0)
        }

        @Test("after the drain timeout, shutdown closes what is still open")
        func shutdownDrainTimeout() async throws {
            let echo = try await TestBackend.start(.echo)
            let manager = TrafficManager(config: try TMSConfig.parse(Self.yaml(echo, drain: "300ms"), file: "t"), cores: 2)
            try await manager.start()
            let live = try await ProxyTests.Spillover.hold(#require(manager.listeningAddress(of: "web")))
            let started = ContinuousClock.now
            await manager.shutdown()
            let took = ContinuousClock.now - started
            #expect(took >= .milliseconds(300) && took < .seconds(3), "took \(took)")
            _ = try await live.receiveUntilEnd(timeout: .seconds(2))
            #expect(manager.table?.vServers["web"]?.quota.totalInUse == 0)
            #expect(manager.table?.vServers["web"]?.quota.totalCounters.released == 1)
        }

        @Test("the admin endpoint serves usage (counts match the traffic), Prometheus metrics and status")
        func adminEndpoint() async throws {
            let echo = try await TestBackend.start(.echo)
            let tokenFile = freshTokenFile()
            try await withTrafficManager(Self.yaml(echo, drain: "1s", tokenFile: tokenFile)) { manager in
                let token = try adminToken(tokenFile)
                let address = try #require(manager.listeningAddress(of: "web"))
                for seed in 0..<4 {
                    let data = payload(seed: UInt64(seed), count: 250_000)
                    #expect(try await TestConnection.echo(data, via: address) == data)
                }
                await manager.sampleUsage()
                let admin = try #require(manager.adminAddress)
                let usage = try await AdminClient.usage(from: admin, token: token)
                let web = try #require(usage.task("vserver/web"))
                #expect(web.task == "web-balancing")
                #expect(web.totals.connections == 4)
                #expect(web.totals.bytesIn == 1_000_000)
                #expect(web.totals.bytesOut == 1_000_000)
                #expect(web.totals.cpuSeconds > 0, "the relaying's CPU time is attributed to the task")
                #expect(web.patterns["bytesPerSecond"]?.peak ?? 0 > 0)
                #expect(web.forecast["connections"] != nil)

                let metrics = try await AdminClient.request(.GET, "/metrics", to: admin, token: token)
                #expect(metrics.status == 200)
                #expect(metrics.text.contains(#"tms_task_bytes_in_total{task="vserver/web",kind="vserver",policy_task="web-balancing"} 1000000"#))
                #expect(metrics.text.contains("tms_vserver_limit{vserver=\"web\"} 100"))
                #expect(metrics.text.contains("tms_task_usage_anticipated"))

                let status = try await AdminClient.status(from: admin, token: token)
                #expect(status.vServer("web")?.quota.limit == 100)
                #expect(status.vServer("web")?.listening == address.description)
                #expect(try await AdminClient.request(.GET, "/nope", to: admin, token: token).status == 404)
                #expect(try await AdminClient.request(.GET, "/reload", to: admin, token: token).status == 405)
            }
        }
    }
}
