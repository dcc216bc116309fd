import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Orchestrator
import Testing
import TrafficManager

/// Spillover persistence shared by two traffic managers through a session-store cluster of
/// real CVMs (image cvm-tms, task session-store): the master on the local host, the servant on
/// a test-bed host holding a full copy. A client pinned to the backup through one traffic
/// manager is sent there by the other; the master's QEMU is killed, the monitor promotes the
/// servant, `cvmctl tms run` serves it as master, and a traffic manager started afresh (an
/// empty local table) learns every pin from it.
@Suite(.serialized) struct SessionStoreClusterTests {
    /// A TCP server on 127.0.0.1 that sends its name on each connection and keeps it open
    /// until the client closes.
    final class NameServer: @unchecked Sendable {
        let port: Int
        private let fd: Int32

        init(name: String) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard ok, listen(fd, 128) == 0 else { throw HarnessError.failed("name server: errno \(errno)") }
            port = Int(UInt16(bigEndian: address.sin_port))
            let listener = fd
            Thread.detachNewThread {
                while true {
                    let client = accept(listener, nil, nil)
                    guard client >= 0 else { return }
                    Thread.detachNewThread {
                        _ = (name + "\n").utf8CString.withUnsafeBufferPointer { write(client, $0.baseAddress, name.utf8.count + 1) }
                        var buffer = [UInt8](repeating: 0, count: 256)
                        while read(client, &buffer, buffer.count) > 0 {}
                        close(client)
                    }
                }
            }
        }

        func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    /// Connects to 127.0.0.1:`port` from `source`, reads the backend's name; keeps the
    /// connection open when `hold` (the returned descriptor), else closes it.
    static func ask(port: Int, from source: String, hold: Bool = false) throws -> (name: String, fd: Int32) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(port).bigEndian
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard withUnsafePointer(to: &remote, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }) == 0 else {
            close(fd)
            throw HarnessError.failed("connect from \(source): errno \(errno)")
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = read(fd, &buffer, buffer.count)
        let name = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        if !hold { close(fd) }
        return (name, fd)
    }

    /// p50/p99 (µs) of 1,000 lookups of `client` at the master at `master`:7490 and in the
    /// local table of a traffic manager (this process) subscribed to it, with the traffic
    /// manager's certificate of the orchestrator's CA.
    static func lookupLatency(state: String, master: String, client: String) throws
        -> (remote: (p50: Double, p99: Double), local: (p50: Double, p99: Double)) {
        let files = try DataPlaneTLS(stateDirectory: state).trafficManager(gateway: "10.77.0.1")
        let config = try TMSConfig.parse("""
            admin: { enabled: false }
            sessionStore: { connect: "\(master):7490", tls: { certificate: "\(files.certificate)", key: "\(files.key)", ca: "\(files.ca)" } }
            vServers:
              - { name: web, bind: "127.0.0.1:0", services: [{ name: p, address: 127.0.0.1, port: 9, capacity: 1 }], spillover: { kind: connection, limit: 1, persistence: 120s, backup: spill } }
              - { name: spill, services: [{ name: s, address: 127.0.0.1, port: 9, capacity: 1 }] }
            """, file: "bench.yaml")
        final class Outcome: @unchecked Sendable {
            let lock = NSLock()
            var result: Result<([Double], [Double]), any Error>?
        }
        let outcome = Outcome(), done = DispatchSemaphore(value: 0)
        Task {
            let manager = TrafficManager(config: config, cores: 1)
            do {
                try await manager.start()
                let deadline = Date().addingTimeInterval(20)
                while Date() < deadline, manager.persistedTarget(vServer: "web", client: client) != "spill" {
                    try await Task.sleep(for: .milliseconds(100))
                }
                var remote: [Double] = [], local: [Double] = []
                let clock = ContinuousClock()
                for _ in 0..<1000 {
                    let start = clock.now
                    guard try await manager.sessionStoreLookup(vServer: "web", client: client) == "spill" else {
                        throw HarnessError.failed("the master does not hold the pin of \(client)")
                    }
                    remote.append(Double((clock.now - start).components.attoseconds) / 1e12)
                    let localStart = clock.now
                    _ = manager.persistedTarget(vServer: "web", client: client)
                    local.append(Double((clock.now - localStart).components.attoseconds) / 1e12)
                }
                outcome.lock.withLock { outcome.result = .success((remote, local)) }
            } catch {
                outcome.lock.withLock { outcome.result = .failure(error) }
            }
            await manager.shutdown()
            done.signal()
        }
        done.wait()
        let (remote, local) = try outcome.lock.withLock { outcome.result! }.get()
        func percentiles(_ samples: [Double]) -> (p50: Double, p99: Double) {
            let sorted = samples.sorted()
            return (sorted[sorted.count / 2], sorted[sorted.count * 99 / 100])
        }
        return (percentiles(remote), percentiles(local))
    }

    @Test func twoTrafficManagersSharePinsAndAPromotedServantKeepsThem() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.environment["CVM_MIGRATION_ADDRESS"] = "10.200.0.1"
        #expect(try cli.addTestBedHost("cloud", index: 0).status == 0)
        let created = try cli.run("cluster", "create", "sessions", "--image", "cvm-tms", "--task", "session-store", "--size", "2",
                                  "--host", "local", "--host", "cloud")
        try #require(created.status == 0, "\(created.stderr)")
        let members = try cli.status().cvms
        let master = try #require(members.first { $0.name == "sessions-1" })
        let servant = try #require(members.first { $0.name == "sessions-2" })
        #expect(master.host == "local" && servant.host == "cloud", "\(members.map { ($0.name, $0.host) })")
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }

        let primary = try NameServer(name: "P"), backup = try NameServer(name: "S")
        defer { primary.stop(); backup.stop() }
        final class TM {
            let run: TmsRun, port: Int
            init(run: TmsRun, port: Int) { self.run = run; self.port = port }
            func text() -> String { run.text() }
            func stop() { run.stop() }
        }
        func start(_ name: String) throws -> TM {
            let port = CVMBackupTests.freePort()
            let config = cli.state + "/\(name).yaml"
            try """
            cores: 2
            admin: { enabled: false }
            sessionStore: { cvm: { cluster: sessions, port: 7490 } }
            vServers:
              - name: web
                bind: 127.0.0.1:\(port)
                services: [{ name: p, address: 127.0.0.1, port: \(primary.port), capacity: 1 }]
                spillover: { kind: connection, limit: 1, persistence: 120s, backup: spill }
              - name: spill
                services: [{ name: s, address: 127.0.0.1, port: \(backup.port), capacity: 100 }]

            """.write(toFile: config, atomically: true, encoding: .utf8)
            return TM(run: try TmsRun(cli, config: config, name: name), port: port)
        }
        func waitShared(_ tm: TM, master address: String) throws {
            try #require(try eventually(timeout: 40) { tm.text().contains("persistence shared through the master at \(address):7490") },
                         "never shared through \(address): \(tm.text().suffix(3000)); events: \((try? cli.run("events").stdout.suffix(4000)) ?? "")")
            Thread.sleep(forTimeInterval: 0.3)
        }
        /// Client `source` spills through `tm` (its primary held full from 127.0.0.250).
        func spill(_ tm: TM, from source: String) throws {
            let filler = try Self.ask(port: tm.port, from: "127.0.0.250", hold: true)
            #expect(filler.name == "P")
            #expect(try Self.ask(port: tm.port, from: source).name == "S", "\(source) did not spill")
            close(filler.fd)
            Thread.sleep(forTimeInterval: 0.3)
        }

        // A serves the members their roles; B, started next, finds them serving just what it
        // would send (the digest in their heartbeats) and only connects.
        let a = try start("a")
        defer { a.stop() }
        let masterAddress = try #require(master.address), servantAddress = try #require(servant.address)
        try waitShared(a, master: masterAddress)
        let b = try start("b")
        defer { b.stop() }
        try waitShared(b, master: masterAddress)
        #expect(!b.text().contains("CVM sessions-1 serving"), "B served the master again: \(b.text().suffix(2000))")

        // A pins 127.0.0.2 to the backup; B sends it there too (its primary is free), and
        // another client to the primary.
        try spill(a, from: "127.0.0.2")
        #expect(try eventually(timeout: 15) { (try? Self.ask(port: b.port, from: "127.0.0.2").name) == "S" }, "B did not honour A's pin")
        #expect(try Self.ask(port: b.port, from: "127.0.0.3").name == "P")

        // Benchmark: a lookup at the master CVM (a round trip over the segment, mutual TLS, the
        // guest's 1 vCPU under TCG) next to the local table, from a traffic manager in this
        // process holding the same pins.
        let (remote, local) = try Self.lookupLatency(state: cli.state, master: masterAddress, client: "127.0.0.2")
        print("SessionStoreCluster: lookup p50/p99 at the master CVM \(String(format: "%.0f", remote.p50))/\(String(format: "%.0f", remote.p99)) µs, "
              + "local table \(String(format: "%.2f", local.p50))/\(String(format: "%.2f", local.p99)) µs (ratio p50 \(String(format: "%.0f", remote.p50 / max(local.p50, 0.001))))")
        #expect(remote.p50 > 0 && local.p50 > 0)

        // The master's QEMU is killed: the monitor promotes the servant (on the test-bed host),
        // and both traffic managers follow it as master.
        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-sessions-1.pid", encoding: .utf8)
        let killed = Date()
        kill(try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines))), SIGKILL)
        try waitShared(a, master: servantAddress)
        print("SessionStoreCluster: master killed; the traffic manager shares through the promoted servant after \(String(format: "%.1f", Date().timeIntervalSince(killed))) s")
        #expect(try cli.status().cvms.first { $0.name == "sessions-2" }?.role == .master)

        // A traffic manager started afresh (nothing in its tables) learns A's pin from the
        // promoted servant; a pin made through A now reaches it too.
        b.stop()
        let c = try start("c")
        defer { c.stop() }
        try waitShared(c, master: servantAddress)
        #expect(try eventually(timeout: 15) { (try? Self.ask(port: c.port, from: "127.0.0.2").name) == "S" },
                "the promoted servant did not hold the acknowledged pin: \(c.text().suffix(2000))")
        try spill(a, from: "127.0.0.4")
        #expect(try eventually(timeout: 15) { (try? Self.ask(port: c.port, from: "127.0.0.4").name) == "S" }, "a new pin did not reach C")
        #expect(try Self.ask(port: c.port, from: "127.0.0.5").name == "P")
    }
}
