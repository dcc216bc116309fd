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
            #expect(took >= .milliseconds(300) && took < .seconds(10), "took \(took)")
            _ = try await live.receiveUntilEnd(timeout: .seconds(2))
            #expect(manager.table?.vServers["web"]?.quota.totalInUse == 0)
            #expect(manager.table?.vServers["web"]?.quota.totalCounters.released == 1)
        }

        /// promtool (Debian's prometheus package; the test command installs it) finds nothing
        /// to say, and every metric family is listed in docs/metrics.md.
        static func checkConventions(_ text: String) throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("tms-metrics-\(UInt64.random(in: 0...UInt64.max)).txt")
            try text.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/sh")
            shell.arguments = ["-c", "promtool check metrics < \"$0\" 2>&1", file.path]
            let out = Pipe()
            shell.standardOutput = out
            try shell.run()
            let verdict = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            shell.waitUntilExit()
            #expect(shell.terminationStatus == 0 && verdict.isEmpty, "promtool check metrics (scripts/test.sh installs promtool): \(verdict)")
            let docs = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../../docs/metrics.md").standardized, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
                let name = line.split(separator: " ")[2]
                #expect(docs.contains("`\(name)`"), "\(name) is not listed in docs/metrics.md")
            }
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
                for line in [#"tms_task_received_bytes_total{task="vserver/web",kind="vserver",policy_task="web-balancing"} 1000000"#,
                             #"tms_vserver_connection_limit{vserver="web"} 100"#,
                             #"tms_service_connections_total{vserver="web",service="s"} 4"#,
                             #"tms_service_sent_bytes_total{vserver="web",service="s"} 1000000"#,
                             #"tms_service_received_bytes_total{vserver="web",service="s"} 1000000"#,
                             #"tms_service_connect_duration_seconds_bucket{vserver="web",service="s",le="+Inf"} 4"#,
                             #"tms_service_first_byte_duration_seconds_count{vserver="web",service="s"} 4"#,
                             #"tms_service_up{vserver="web",service="s"} 1"#, "tms_task_usage_anticipated{"] {
                    #expect(metrics.text.contains(line), "\(line) in \(metrics.text.prefix(3000))")
                }
                try Self.checkConventions(metrics.text)

                let status = try await AdminClient.status(from: admin, token: token)
                #expect(status.vServer("web")?.quota.limit == 100)
                #expect(status.vServer("web")?.listening == address.description)
                #expect(try await AdminClient.request(.GET, "/nope", to: admin, token: token).status == 404)
                #expect(try await AdminClient.request(.GET, "/reload", to: admin, token: token).status == 405)
            }
        }
    }
}
