import Foundation
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// Offloaded monitoring between two traffic managers on loopback, with real sockets and
    /// mutual TLS: one runs the monitors and publishes their states, the other follows them
    /// with its own monitors paused; when the publisher goes away, the follower's monitors
    /// resume from the last states received, without a flip.
    @Suite struct MonitoringStream {
        static func config(_ a: TestBackend, _ b: TestBackend, bind: String?, monitoring: String, fall: Int = 2) -> String {
            """
            admin: { enabled: false }
            monitoring: \(monitoring)
            monitors:
              - { name: check, kind: http, path: /health, interval: 100ms, timeout: 300ms, fall: \(fall), rise: 2 }
            vServers:
              - name: web
            \(bind.map { "    bind: \($0)" } ?? "")
                mode: http
                monitor: check
                spillover: { kind: dynamic }
                services:
                  - { name: a, address: 127.0.0.1, port: \(a.port), capacity: 10 }
                  - { name: b, address: 127.0.0.1, port: \(b.port), capacity: 5 }
            """
        }

        @Test("states follow the publisher; its loss hands monitoring back without a flip")
        func followAndFallBack() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("publisher", ips: ["127.0.0.1"])
            try pki.issue("follower", ips: [])
            let a = try await TestBackend.start(.http(status: 200, delay: .zero))
            let b = try await TestBackend.start(.http(status: 200, delay: .zero))
            let publisherConfig = try TMSConfig.parse(Self.config(a, b, bind: nil,
                monitoring: "{ publish: 127.0.0.1:0, publishTLS: \(pki.yaml("publisher")) }"), file: "p.yaml")
            let publisher = TrafficManager(config: publisherConfig, cores: 1)
            try await publisher.start()
            let published = try #require(publisher.monitoringPublishAddress)
            // The follower's own monitors would need 20 failures to take a service down: any
            // "down" it shows came from the publisher.
            try await withTrafficManager(Self.config(a, b, bind: "127.0.0.1:0",
                monitoring: "{ follow: \"\(published)\", followTLS: \(pki.yaml("follower")) }", fall: 20), cores: 1) { manager in
                #expect(await eventually(timeout: .seconds(5)) { await manager.monitoringIsOffloaded }, "never followed the publisher")
                let web = { manager.vServer("web")! }
                #expect(web().quota.sizing.limit == 15)

                // The work done for the task is counted where it is followed: the publisher's
                // probes (2 services every 100 ms: 20/s) are the follower's monitor task's
                // probes per second, its own being paused.
                _ = await manager.sampleUsage()
                try await Task.sleep(for: .seconds(1.5))
                let report = await manager.sampleUsage()
                let monitorTask = try #require(report.tasks.first { $0.name == "monitor/check" })
                let rate = monitorTask.current[UsageResource.connectionsPerSecond.rawValue] ?? 0
                #expect(rate > 10 && rate < 30, "probes/s counted for the followed monitors: \(monitorTask.current)")

                // b fails: the publisher's monitor takes it down (fall 2), the follower applies it.
                await b.kill()
                #expect(await eventually(timeout: .seconds(5)) { web().services[1].isUp == false }, "the publisher's verdict did not arrive")
                // (The service's state and the quota's size are two updates: the size may follow a moment later.)
                #expect(await eventually(timeout: .seconds(5)) { web().quota.sizing.limit == 10 }, "the dynamic limit follows the offloaded verdict")

                // The publisher is lost: the follower's monitors resume within 3 s, from the
                // last states (b stays down: no flip), and then judge by themselves.
                let lost = ContinuousClock.now
                await publisher.shutdown()
                #expect(await eventually(timeout: .seconds(3)) { await manager.monitoringIsOffloaded == false }, "own monitors did not resume")
                print("MonitoringStream: own monitors resumed \(ContinuousClock.now - lost) after the publisher was lost")
                #expect(web().services[1].isUp == false && web().services[0].isUp, "a service flipped in the hand-back")
                try await b.restart()
                #expect(await eventually(timeout: .seconds(5)) { web().services[1].isUp }, "the own monitor did not bring b back up")
                #expect(await eventually(timeout: .seconds(5)) { web().quota.sizing.limit == 15 })
            }
        }

        @Test("a follower without a certificate of the publisher's CA gets nothing; its monitors keep running")
        func foreignFollowerIsRefused() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("publisher", ips: ["127.0.0.1"])
            try pki.issue("intruder", ips: [], by: "rogue-ca")
            let a = try await TestBackend.start(.http(status: 200, delay: .zero))
            let b = try await TestBackend.start(.http(status: 200, delay: .zero))
            let publisher = TrafficManager(config: try TMSConfig.parse(Self.config(a, b, bind: nil,
                monitoring: "{ publish: 127.0.0.1:0, publishTLS: \(pki.yaml("publisher")) }"), file: "p.yaml"), cores: 1)
            try await publisher.start()
            defer { Task { await publisher.shutdown() } }
            let published = try #require(publisher.monitoringPublishAddress)
            try await withTrafficManager(Self.config(a, b, bind: "127.0.0.1:0",
                monitoring: "{ follow: \"\(published)\", followTLS: \(pki.yaml("intruder")) }"), cores: 1) { manager in
                try await Task.sleep(for: .seconds(1.5))
                #expect(await manager.monitoringIsOffloaded == false)
                await b.kill()
                #expect(await eventually(timeout: .seconds(5)) { manager.vServer("web")?.services[1].isUp == false }, "its own monitors judge")
            }
        }
    }
}

@Suite struct MonitorStreamLineTests {
    @Test func roundTripAndEscaping() {
        let state = MonitorState(vServer: "web\tx", service: "b%1\n", up: false, lastMs: 12.5, averageMs: nil, samples: 7)
        let text = MonitorStreamLine.state(state).text
        #expect(text.filter { $0 == "\n" }.count == 1 && text.hasSuffix("\n"))
        #expect(MonitorStreamLine(Substring(text.dropLast())) == .state(state))
        #expect(MonitorStreamLine("E\t3") == .end(count: 3))
        let counted = MonitorState(vServer: "web", service: "a", up: true, lastMs: 1, averageMs: 1, samples: 7, probes: 12)
        #expect(MonitorStreamLine.state(counted).text.hasSuffix("\t7\t12\n"))
        #expect(MonitorStreamLine(Substring(MonitorStreamLine.state(counted).text.dropLast())) == .state(counted))
    }

    @Test func malformedLinesAreRefusedWhole() {
        for line in ["", "X\t1", "E", "E\t-1", "E\t99999999999", "S\tweb\ta\t2\t-\t-\t0", "S\tweb\ta\t1\tnan\t-\t0",
                     "S\tweb\ta\t1\t-1\t-\t0", "S\tweb\ta\t1\t-\t-", "S\t\ta\t1\t-\t-\t0", "S\tweb\t%zz\t1\t-\t-\t0",
                     "S\tweb\ta\t1\t1e300\t-\t0", "S\tweb\ta\t1\t-\t-\t0\t-1", "S\tweb\ta\t1\t-\t-\t0\t9999999999999999",
                     "S\tweb\ta\t1\t-\t-\t0\t1\t1", String(repeating: "S", count: 2000)] {
            #expect(MonitorStreamLine(Substring(line)) == nil, "\(line.prefix(40))")
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...60, using: &random)).map { _ in
                [UInt8(ascii: "S"), UInt8(ascii: "E"), 9, UInt8(ascii: "1"), UInt8(ascii: "-"), UInt8(ascii: "%"), UInt8.random(in: 0...255, using: &random)]
                    .randomElement(using: &random)!
            }
            _ = MonitorStreamLine(Substring(String(decoding: bytes, as: UTF8.self)))
        }
    }
}

@Suite struct RemoteProbeCountTests {
    @Test("a copy's probe count adds its increase, bounded by the interval; a count that goes back adds nothing")
    func bounded() {
        let second: UInt64 = 1_000_000_000
        #expect(ServiceMonitor.countedProbes(from: 10, to: 20, elapsedNanos: second, intervalNanos: 100_000_000) == 10)
        // A hostile guest's jump counts no more than one probe per interval (plus two).
        #expect(ServiceMonitor.countedProbes(from: 10, to: Int.max, elapsedNanos: second, intervalNanos: 100_000_000) == 12)
        #expect(ServiceMonitor.countedProbes(from: 10, to: 3, elapsedNanos: second, intervalNanos: 100_000_000) == 0)
        #expect(ServiceMonitor.countedProbes(from: 0, to: 5, elapsedNanos: 0, intervalNanos: 0) == 2)
        #expect(ServiceMonitor.countedProbes(from: 0, to: Int.max, elapsedNanos: .max, intervalNanos: 1) == 1_000_000_000_000)
    }
}
