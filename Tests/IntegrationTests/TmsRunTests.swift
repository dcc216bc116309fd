import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// `cvmctl tms run` as an operator runs it: the real binary, a real backend on loopback, real
/// signals. Relays, `cvmctl tms usage` against its admin endpoint, a SIGHUP reload that adds
/// and removes vServers (a live connection on the removed one drains), a SIGHUP with a broken
/// file (refused, the running configuration stays), and SIGTERM (graceful exit 0).
@Suite("tms run (CLI)", .serialized)
struct TmsRunTests {
    @Test("relays, reports usage, reloads on SIGHUP, refuses a broken reload, stops on SIGTERM")
    func runReloadStop() async throws {
        let backend = try EchoServer()
        defer { backend.stop() }
        let harness = try CLIHarness()
        let (portA, portB, admin) = (try freePort(), try freePort(), try freePort())
        let config = harness.state + "/tms.yaml"
        func write(_ vServers: [(String, Int)]) throws {
            var text = "cores: 1\nadmin:\n  address: 127.0.0.1:\(admin)\ndrainTimeout: 3s\nusage:\n  interval: 200ms\nvServers:\n"
            for (name, port) in vServers {
                text += """
                  - name: \(name)
                    bind: 127.0.0.1:\(port)
                    mode: tcp
                    services: [{ name: echo, address: 127.0.0.1, port: \(backend.port), capacity: 10 }]

                """
            }
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write([("a", portA)])

        let process = harness.process(["tms", "run", "--config", config])
        let log = harness.state + "/tms.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        #expect(await waitUntil { canConnect(portA) }, "vServer a never listened: \(logText())")
        do {
            #expect(try roundTrip(port: portA, payload: "hello") == "hello")
        } catch {
            Issue.record("first relay through vServer a failed: \(error); tms log: \(logText())")
            throw error
        }

        // A connection that stays open across the reload that removes its vServer.
        let held = try TCPClient(port: portA)
        #expect(try held.echo("before") == "before")

        // The admin endpoint serves the latest sample (every 200 ms here): wait for one that
        // has seen both connections.
        var totals: [String: Any] = [:]
        var usageText = ""
        let sampled = await waitUntil(seconds: 5) {
            guard let usage = try? harness.run(["tms", "usage", "--admin", "127.0.0.1:\(admin)", "--json"]), usage.status == 0,
                  let report = try? JSONSerialization.jsonObject(with: Data(usage.stdout.utf8)) as? [String: Any],
                  let tasks = report["tasks"] as? [[String: Any]],
                  let a = tasks.first(where: { $0["name"] as? String == "vserver/a" }),
                  let t = a["totals"] as? [String: Any] else { return false }
            usageText = usage.stdout
            totals = t
            // A sample may be taken after the held connection was accepted but before its echo
            // was relayed: wait for one that has the bytes too.
            return (t["connections"] as? Int ?? 0) >= 2 && (t["bytesIn"] as? Int ?? 0) >= 11 && (t["bytesOut"] as? Int ?? 0) >= 11
        }
        #expect(sampled, "usage never counted the two connections: \(usageText)")
        #expect(totals["activeConnections"] as? Int == 1, "\(usageText)")
        #expect((totals["bytesIn"] as? Int ?? 0) >= 11 && (totals["bytesOut"] as? Int ?? 0) >= 11, "\(usageText)")
        let table = try harness.run(["tms", "usage", "--admin", "127.0.0.1:\(admin)"])
        #expect(table.status == 0 && table.stdout.contains("vserver/a"), "\(table.stdout)\(table.stderr)")

        // The admin token: created in the state directory with mode 0600; without it (or with
        // another) the endpoint answers 401 and `tms usage` says which file to use.
        let tokenFile = harness.state + "/tms-admin.token"
        let mode = (try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try TCPClient(port: admin).exchange("POST /reload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 401"))
        #expect(try TCPClient(port: admin).exchange("GET /usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(String(token.reversed()))\r\n"
                                                    + "Connection: close\r\n\r\n").hasPrefix("HTTP/1.1 401"))
        #expect(try TCPClient(port: admin).exchange("GET /usage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
                                                    + "Connection: close\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        let otherToken = harness.state + "/other.token"
        try String(repeating: "ab", count: 32).write(toFile: otherToken, atomically: false, encoding: .utf8)
        chmod(otherToken, 0o600)
        let refused = try harness.run(["tms", "usage", "--admin", "127.0.0.1:\(admin)", "--admin-token-file", otherToken])
        #expect(refused.status != 0 && refused.errorLines.count == 1 && refused.stderr.contains("401"), "\(refused.stderr)")
        chmod(otherToken, 0o644)
        let open = try harness.run(["tms", "usage", "--admin", "127.0.0.1:\(admin)", "--admin-token-file", otherToken])
        #expect(open.status != 0 && open.errorLines.count == 1 && open.stderr.contains("chmod 600"), "\(open.stderr)")
        let missing = try harness.run(["tms", "usage", "--admin", "127.0.0.1:\(admin)", "--admin-token-file", harness.state + "/none"])
        #expect(missing.status != 0 && missing.errorLines.count == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")

        // Reload: a removed, b added.
        try write([("b", portB)])
        kill(process.processIdentifier, SIGHUP)
        #expect(await waitUntil { canConnect(portB) }, "vServer b never listened after SIGHUP: \(logText())")
        #expect(try roundTrip(port: portB, payload: "after reload") == "after reload")
        #expect(await waitUntil { !canConnect(portA) }, "vServer a still accepts after its removal")
        #expect(try held.echo("draining") == "draining", "a live connection of a removed vServer must drain, not drop")
        // Past the drain timeout (3 s) the removed vServer's last connection is closed.
        #expect(await waitUntil(seconds: 8) { held.isClosedByPeer() }, "the draining connection outlived drainTimeout")

        // A broken file: refused with file:line, b keeps serving.
        try "vServers:\n  - name: c\n    bind: 127.0.0.1:1\n    bogus: 1\n".write(toFile: config, atomically: true, encoding: .utf8)
        kill(process.processIdentifier, SIGHUP)
        #expect(await waitUntil { logText().contains("reload refused") }, "no refusal logged: \(logText())")
        #expect(logText().contains("tms.yaml:4"), "the refusal should name the file and line: \(logText())")
        #expect(try roundTrip(port: portB, payload: "still here") == "still here")

        // SIGTERM: stop accepting, finish, exit 0.
        process.terminate()
        #expect(await waitUntil(seconds: 10) { !process.isRunning }, "tms run did not stop on SIGTERM")
        #expect(process.terminationStatus == 0, "\(logText())")
        #expect(!canConnect(portB))
    }

    @Test("a configuration file that does not validate: one line naming file, line and key; exit non-zero")
    func badConfig() throws {
        let harness = try CLIHarness()
        let config = harness.state + "/bad.yaml"
        try "vServers:\n  - name: a\n    bind: 127.0.0.1:18999\n    mode: udp\n    services: [{ name: s, address: 127.0.0.1, port: 1, capacity: 1 }]\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let out = try harness.run(["tms", "run", "--config", config])
        #expect(out.status != 0)
        #expect(out.errorLines.count == 1, "\(out.stderr)")
        #expect(out.errorLines.first?.contains("bad.yaml:4") == true, "\(out.stderr)")
        #expect(out.errorLines.first?.contains("mode") == true, "\(out.stderr)")
        #expect(!canConnect(18999))

        for (flags, needle) in [(["--cores", "0"], "--cores"), (["--admin", "10.1.2.3:9901"], "loopback"), (["--admin", "nowhere"], "--admin")] {
            let out = try harness.run(["tms", "run", "--config", config] + flags)
            #expect(out.status != 0 && out.stderr.contains(needle), "\(flags): \(out.stderr)")
        }

        // A vServer offloaded to CVMs of a task no image of the catalog runs.
        let offloaded = harness.state + "/offloaded.yaml"
        try """
        vServers:
          - name: web
            bind: 127.0.0.1:18998
            services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]
            spillover: { kind: connection, limit: 1, backup: web-cvm }
          - name: web-cvm
            cvm: { task: no-such-task, port: 8090, capacity: 5 }
            services: [{ address: 10.77.0.250, port: 9000, capacity: 5 }]

        """.write(toFile: offloaded, atomically: true, encoding: .utf8)
        let unknownTask = try harness.run(["tms", "run", "--config", offloaded])
        #expect(unknownTask.status != 0)
        #expect(unknownTask.errorLines.count == 1 && unknownTask.errorLines[0].contains("runs task 'no-such-task'"), "\(unknownTask.stderr)")
        #expect(!canConnect(18998))

        // Monitoring offloaded to CVMs of a task no image runs; then too many services for the
        // agent channel's line.
        let monitored = harness.state + "/monitored.yaml"
        func monitoredConfig(task: String, services: Int) throws {
            try """
            monitoring: { cvm: { task: \(task), port: 8190 } }
            monitors: [{ name: check, kind: tcp }]
            vServers:
              - name: web
                bind: 127.0.0.1:18997
                monitor: check
                services:
            \((0..<services).map { "      - { name: service-with-a-long-name-\($0), address: 10.77.0.250, port: 9000, capacity: 5 }" }.joined(separator: "\n"))

            """.write(toFile: monitored, atomically: true, encoding: .utf8)
        }
        try monitoredConfig(task: "no-such-task", services: 1)
        let unknownMonitoringTask = try harness.run(["tms", "run", "--config", monitored])
        #expect(unknownMonitoringTask.status != 0 && unknownMonitoringTask.errorLines.count == 1
                && unknownMonitoringTask.errorLines[0].contains("monitoring.cvm: no image"), "\(unknownMonitoringTask.stderr)")
        try monitoredConfig(task: "health-monitor", services: 60)
        let tooMany = try harness.run(["tms", "run", "--config", monitored])
        #expect(tooMany.status != 0 && tooMany.errorLines.count == 1 && tooMany.errorLines[0].contains("offload fewer services"), "\(tooMany.stderr)")
        #expect(!canConnect(18997))

        // The access log offloaded to a task no image runs.
        let logged = harness.state + "/logged.yaml"
        try """
        accessLog: { spool: { dir: \(harness.state)/spool }, cvm: { task: no-such-task, port: 7480 } }
        vServers: [{ name: web, bind: "127.0.0.1:18996", services: [{ address: 127.0.0.1, port: 1, capacity: 1 }] }]

        """.write(toFile: logged, atomically: true, encoding: .utf8)
        let unknownCollector = try harness.run(["tms", "run", "--config", logged])
        #expect(unknownCollector.status != 0 && unknownCollector.errorLines.count == 1
                && unknownCollector.errorLines[0].contains("accessLog.cvm: no image"), "\(unknownCollector.stderr)")

        // Persistence shared through a session-store cluster that does not exist, then through
        // one of a single member while replication is required.
        let shared = harness.state + "/shared.yaml"
        try """
        sessionStore: { cvm: { cluster: sessions, port: 7490, minReplicas: 1 } }
        vServers:
          - { name: web, bind: "127.0.0.1:18995", services: [{ address: 127.0.0.1, port: 1, capacity: 1 }],
              spillover: { kind: connection, limit: 1, persistence: 30s, backup: spill } }
          - { name: spill, services: [{ address: 127.0.0.1, port: 2, capacity: 1 }] }

        """.write(toFile: shared, atomically: true, encoding: .utf8)
        let noCluster = try harness.run(["tms", "run", "--config", shared])
        #expect(noCluster.status != 0 && noCluster.errorLines.count == 1 && noCluster.errorLines[0].contains("no cluster named 'sessions'"), "\(noCluster.stderr)")
        let created = try harness.run(["cluster", "create", "sessions", "--image", "cvm-tms", "--task", "session-store", "--size", "1"])
        try #require(created.status == 0, "\(created.stderr)")
        defer { harness.cleanUp() }
        let single = try harness.run(["tms", "run", "--config", shared])
        #expect(single.status != 0 && single.errorLines.count == 1 && single.errorLines[0].contains("has 1 member, so 0 servants"), "\(single.stderr)")
        #expect(!canConnect(18995))

        let missing = try harness.run(["tms", "run", "--config", harness.state + "/nope.yaml"])
        #expect(missing.status != 0)
        #expect(missing.errorLines.count == 1 && missing.errorLines[0].contains("nope.yaml"), "\(missing.stderr)")
    }
}

// MARK: loopback helpers (blocking sockets; the test's own threads)

/// A free TCP port on 127.0.0.1 (bound, read back and released).
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw SocketFailure("cannot pick a free port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
}

private func connectTo(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = loopback(port: port)
    let ok = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    if ok {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }
    close(fd)
    return nil
}

private func canConnect(_ port: Int) -> Bool {
    guard let fd = connectTo(port: port) else { return false }
    close(fd)
    return true
}

private func roundTrip(port: Int, payload: String) throws -> String {
    let client = try TCPClient(port: port)
    return try client.echo(payload)
}

private func waitUntil(seconds: Double = 15, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

private struct SocketFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One client connection (closed when released).
private final class TCPClient {
    let fd: Int32

    init(port: Int) throws {
        guard let fd = connectTo(port: port) else { throw SocketFailure("cannot connect to 127.0.0.1:\(port): errno \(errno)") }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Sends `text` and reads back as many bytes.
    func echo(_ text: String) throws -> String {
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw SocketFailure("write failed: errno \(errno)") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while received.count < bytes.count {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { throw SocketFailure("connection ended after \(received.count) of \(bytes.count) bytes") }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Sends `text` and reads until the peer closes.
    func exchange(_ text: String) throws -> String {
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw SocketFailure("write failed: errno \(errno)") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { break }
            received += buffer[0..<n]
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the peer has closed (a read returns end of file or a reset) — without waiting.
    func isClosedByPeer() -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 0) == 1 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) <= 0
    }
}

/// A blocking echo server on 127.0.0.1: a thread accepts, a thread per connection echoes
/// until end of file.
private final class EchoServer: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 64) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard ok else { close(listener); throw SocketFailure("echo server cannot listen: errno \(errno)") }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread {
                    var buffer = [UInt8](repeating: 0, count: 16384)
                    while true {
                        let n = read(client, &buffer, buffer.count)
                        guard n > 0, write(client, buffer, n) == n else { break }
                    }
                    close(client)
                }
            }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
