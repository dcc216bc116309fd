import Foundation
import Logging
import Testing
@testable import TrafficManager

extension ProxyTests {
    /// The access log shipped to a log collector over loopback with real sockets and mutual
    /// TLS: every connection's record reaches the collector exactly once, across a collector
    /// restart and a replacement by one with an empty disk; a collector whose disk is full
    /// refuses clearly and the spool keeps the records.
    @Suite struct AccessLogShipping {
        static func config(backend: TestBackend, spool: String, ship: HostPort, tls: String, spoolBytes: Int = 16 << 20) -> String {
            """
            admin: { enabled: false }
            accessLog:
              spool: { dir: \(spool), maxBytes: \(spoolBytes) }
              ship: "\(ship)"
              shipTLS: \(tls)
            vServers:
              - name: web
                bind: 127.0.0.1:0
                services:
                  - { name: echo, address: 127.0.0.1, port: \(backend.port), capacity: 100 }
            """
        }

        static func collector(disk: String, port: Int, pki: TestPKI, maxBytes: Int? = nil, maxAge: Duration? = nil) async throws -> LogCollector {
            let tls = TLSConfig(certificate: pki.path("collector-cert.pem"), key: pki.path("collector-key.pem"), ca: pki.path("ca.pem"))
            return try await LogCollector.start(.init(listen: HostPort(host: "127.0.0.1", port: port), tls: tls, device: disk,
                                                      maxBytes: maxBytes, maxAge: maxAge), logger: Logger(label: "collector"))
        }

        /// `count` echo connections with distinct payloads, each checked.
        static func traffic(_ manager: TrafficManager, count: Int, offset: Int) async throws {
            let address = try #require(manager.listeningAddress(of: "web"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<count {
                    if n >= 8 { try await group.next() }
                    group.addTask {
                        let bytes = payload(seed: UInt64(offset + n), count: 100 + (offset + n) % 900)
                        let echoed = try await TestConnection.echo(bytes, via: address)
                        #expect(checksum(echoed) == checksum(bytes))
                    }
                }
                try await group.waitForAll()
            }
        }

        static func query(_ collector: LogCollector, pki: TestPKI, _ query: AccessLogQuery) async throws -> LogCollectorClient.Answer {
            try await LogCollectorClient.query(query, at: collector.address,
                                               tls: TLSConfig(certificate: pki.path("shipper-cert.pem"), key: pki.path("shipper-key.pem"), ca: pki.path("ca.pem")))
        }

        @Test("N connections, a collector restart and a replacement midway: exactly N records, each with its bytes")
        func exactlyOnce() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("collector", ips: ["127.0.0.1"])
            try pki.issue("shipper", ips: [])
            let disk = try AccessLogTests.temporaryDisk(bytes: 8 << 20)
            let newDisk = try AccessLogTests.temporaryDisk(bytes: 8 << 20)
            let spool = AccessLogTests.temporaryDirectory()
            defer { unlink(disk); unlink(newDisk); try? FileManager.default.removeItem(atPath: spool) }
            let backend = try await TestBackend.start(.echo)
            var collector = try await Self.collector(disk: disk, port: 0, pki: pki)
            let port = collector.address.port
            let yaml = Self.config(backend: backend, spool: spool, ship: collector.address, tls: pki.yaml("shipper"))
            try await withTrafficManager(yaml) { manager in
                let log = try #require(manager.accessLog?.spool)
                // (The spool also carries the traffic manager's events: every record counts.)
                func allAcknowledged() -> Bool { let stats = log.stats; return stats.unacknowledged == 0 && stats.nextSeq > 1 }
                try await Self.traffic(manager, count: 100, offset: 0)
                #expect(await eventually(timeout: .seconds(10)) {
                    (try? await Self.query(collector, pki: pki, AccessLogQuery(countOnly: true)).matched) == 100 && allAcknowledged()
                }, "acknowledged: \(log.stats.acknowledged)")

                // The collector restarts (same disk) while connections go on.
                await collector.close()
                try await Self.traffic(manager, count: 100, offset: 100)
                collector = try await Self.collector(disk: disk, port: port, pki: pki)
                try await Self.traffic(manager, count: 100, offset: 200)
                #expect(await eventually(timeout: .seconds(10)) {
                    (try? await Self.query(collector, pki: pki, AccessLogQuery(countOnly: true)).matched) == 300 && allAcknowledged()
                }, "acknowledged: \(log.stats.acknowledged)")
                let answer = try await Self.query(collector, pki: pki, AccessLogQuery(limit: 10_000))
                #expect(answer.matched == 300)
                let everything = try await Self.query(collector, pki: pki, AccessLogQuery(limit: 10_000, includeEvents: true))
                #expect(everything.entries.map(\.seq).sorted() == Array(1...log.stats.acknowledged), "every record exactly once, in sequence")
                #expect(everything.entries.contains { $0.record.outcome == .event && $0.record.target.contains("shipping to the collector") })
                let sizes = answer.entries.map(\.record.bytesIn).sorted()
                #expect(sizes == (0..<300).map { 100 + $0 % 900 }.sorted(), "each record carries its connection's bytes")
                #expect(answer.entries.allSatisfy { $0.record.outcome == .served && $0.record.target == "echo" && $0.record.bytesOut == $0.record.bytesIn })

                // Replaced by a collector with an empty disk: the spool's history goes to it.
                await collector.close()
                collector = try await Self.collector(disk: newDisk, port: port, pki: pki)
                try await Self.traffic(manager, count: 50, offset: 300)
                #expect(await eventually(timeout: .seconds(10)) {
                    (try? await Self.query(collector, pki: pki, AccessLogQuery(countOnly: true)).matched) == 350
                }, "the replacement should get the history and the new records")
                let summary = await eventually(timeout: .seconds(3)) { manager.collectorStatus?.summary.vServers["web"]?[.served] ?? 0 > 0 }
                #expect(summary, "the collector's summary reaches the traffic manager")
            }
            let final = try await Self.query(collector, pki: pki, AccessLogQuery(limit: 10_000))
            #expect(final.matched == 350 && Set(final.entries.map(\.seq)).count == 350, "\(final.matched)")
            // A bad query gets one line back.
            await #expect(throws: LogCollectorClient.Failure.self) {
                _ = try await LogCollectorClient.query(AccessLogQuery(), at: HostPort(host: "127.0.0.1", port: 1), tls: nil)
            }
            await collector.close()
            await backend.kill()
        }

        /// The access log's writer is a task of its own in `/usage` (policy task
        /// `accessLog.cvm.task`): records as connections, its file and spool writes as disk
        /// bytes, its thread's CPU; so elastic mode decides on the log collector by measure.
        @Test("the access log's writer reports its usage as a task: records, disk bytes, CPU")
        func theWriterIsATaskWithDiskAndCPU() async throws {
            let spool = AccessLogTests.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: spool) }
            let backend = try await TestBackend.start(.echo)
            let yaml = Self.config(backend: backend, spool: spool, ship: HostPort(host: "127.0.0.1", port: 1), tls: "null")
                .replacingOccurrences(of: "accessLog:\n", with: "accessLog:\n  file: \(spool)/access.log\n  cvm: { task: logs-offloadable, port: 7480 }\n")
                .replacingOccurrences(of: "  shipTLS: null\n", with: "")
                .replacingOccurrences(of: "  ship: \"127.0.0.1:1\"\n", with: "")
            try await withTrafficManager(yaml) { manager in
                await manager.sampleUsage()
                try await Self.traffic(manager, count: 200, offset: 0)
                #expect(await eventually(timeout: .seconds(5)) { manager.accessLog?.written == 200 })
                let report = await manager.sampleUsage()
                let task = try #require(report.task("accesslog"), "\(report.tasks.map(\.name))")
                #expect(task.task == "logs-offloadable" && task.kind == .accessLog)
                #expect(task.totals.connections == 200 && task.totals.activeConnections == 0)
                let lines = try String(contentsOfFile: spool + "/access.log", encoding: .utf8).utf8.count
                #expect(task.totals.diskBytes == 2 * lines, "file and spool: \(task.totals.diskBytes) against \(lines) bytes of file")
                #expect(task.current["diskBytesPerSecond"] ?? 0 > 0 && task.current["connectionsPerSecond"] ?? 0 > 0, "\(task.current)")
                #expect(task.totals.cpuSeconds > 0, "the writer's thread CPU")
                #expect(report.task("vserver/web")?.current["diskBytesPerSecond"] == 0)
            }
            await backend.kill()
        }

        @Test("a collector whose disk fills says so; the records stay in the spool, unacknowledged")
        func collectorDiskFull() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("collector", ips: ["127.0.0.1"])
            try pki.issue("shipper", ips: [])
            let disk = try AccessLogTests.temporaryDisk(bytes: 3 << 20)
            let spool = AccessLogTests.temporaryDirectory()
            defer { unlink(disk); try? FileManager.default.removeItem(atPath: spool) }
            // Retention allows 64 MiB on a 3 MiB disk and keeps everything for an hour.
            let collector = try await Self.collector(disk: disk, port: 0, pki: pki, maxBytes: 64 << 20, maxAge: .seconds(3600))
            let backend = try await TestBackend.start(.echo)
            let yaml = Self.config(backend: backend, spool: spool, ship: collector.address, tls: pki.yaml("shipper"))
            try await withTrafficManager(yaml) { manager in
                let log = try #require(manager.accessLog?.spool)
                // Fill the collector's disk through the spool directly (thousands of records a second).
                var seq = 0
                for _ in 0..<30 {
                    log.append((0..<2000).map { _ in
                        seq += 1
                        var record = AccessLogTests.record(seq, client: "10.\(seq % 250).\(seq % 251).\(seq % 13)")
                        // Hard to compress, so the 2 MiB of segments fill.
                        record.target = (0..<6).map { _ in String(UInt64.random(in: 0 ... .max), radix: 16) }.joined()
                        return record.line
                    })
                }
                manager.accessLog?.onSpooled.withLock { $0 }?()
                #expect(await eventually(timeout: .seconds(20)) { manager.collectorStatus?.full != nil }, "the collector never said it is full")
                let full = manager.collectorStatus?.full ?? ""
                #expect(full.contains("full"), "\(full)")
                let stats = log.stats
                #expect(stats.unacknowledged > 0 && stats.acknowledged < UInt64(seq))
                #expect(log.records(from: stats.acknowledged + 1, limit: 1).first?.seq == stats.acknowledged + 1, "the spool keeps what was not taken")
            }
            await collector.close()
            await backend.kill()
        }
    
        @Test("a traffic manager whose configuration is the collector's (what a log-collector CVM is served) collects; /status shows the spool and the summary")
        func collectorConfiguration() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("collector", ips: ["127.0.0.1"])
            try pki.issue("shipper", ips: [])
            let disk = try AccessLogTests.temporaryDisk(bytes: 4 << 20)
            let spool = AccessLogTests.temporaryDirectory()
            defer { unlink(disk); try? FileManager.default.removeItem(atPath: spool) }
            var served = try TMSConfig.parse("""
                cores: 2
                accessLog: { cvm: { task: log-collector, port: 7480, maxBytes: 3145728, maxAge: 1h }, spool: { dir: /tmp/x } }
                vServers: [{ name: web, bind: "127.0.0.1:0", services: [{ name: a, address: "127.0.0.1:1", capacity: 1 }] }]
                """, file: "tms.yaml").cvmCollectorYAML(port: 0, tls: CVMGuestTLS(
                    gateway: "127.0.0.1", certificate: pki.path("collector-cert.pem"), key: pki.path("collector-key.pem"), ca: pki.path("ca.pem")))
            #expect(served.contains("device: /dev/vda") && served.contains("maxBytes: 3145728") && served.contains("maxAge: "))
            served = served.replacingOccurrences(of: "device: /dev/vda", with: "device: \(disk)").replacingOccurrences(of: "0.0.0.0:0", with: "127.0.0.1:0")
            var collectorConfig = try TMSConfig.parse(served, file: "served.yaml")
            collectorConfig.admin.address = nil  // as cvm-tms runs it
            let collectorManager = TrafficManager(config: collectorConfig, cores: 1)
            try await collectorManager.start()
            let address = try #require(collectorManager.collectorAddress)
            #expect(collectorManager.table != nil, "a collector-only configuration is in force (the CVM reports serving)")
            let backend = try await TestBackend.start(.echo)
            try await withTrafficManager(Self.config(backend: backend, spool: spool, ship: address, tls: pki.yaml("shipper"))) { manager in
                try await Self.traffic(manager, count: 40, offset: 0)
                #expect(await eventually(timeout: .seconds(10)) {
                    let status = await manager.status().accessLog
                    return status?.spool?.unacknowledged == 0 && status?.collector?.vServers["web"]?["served"] == 40
                })
                let status = try #require(await manager.status().accessLog)
                #expect(status.records >= 40 && status.lost == 0)
                #expect(status.spool?.unacknowledged == 0 && status.spool?.highWaterBytes ?? 0 > 0)
                #expect(status.collector?.connected == true && status.collector?.topClients.first?.client == "127.0.0.1")
                await manager.sampleUsage()
                let metrics = await manager.metricsText()
                #expect(metrics.contains("tms_access_log_records_total"))
                #expect(metrics.contains("tms_access_log_collector_records{"), "\(metrics.split(separator: "\n").filter { $0.contains("access_log") })")
                try ProxyTests.Lifecycle.checkConventions(metrics)
            }
            await collectorManager.shutdown()
            await backend.kill()
        }
    }
}
