import Foundation
import Testing
@testable import Orchestrator
#if canImport(Glibc)
import Glibc
#endif

@Suite("TMSUsageSource (the traffic manager's /usage endpoint)")
struct TMSUsageSourceTests {
    static let report = """
        {"time": 1718000000.5, "cores": 2, "tasks": [
          {"name": "vserver/web", "task": "web", "kind": "vserver",
           "current": {"cpuPercent": 12.5, "connections": 40, "bytesPerSecond": 1000, "spillsPerSecond": 3}},
          {"name": "vserver/web-backup", "task": "web", "kind": "vserver",
           "current": {"cpuPercent": 2.5, "connections": 2, "bytesPerSecond": 500}},
          {"name": "monitor/check", "task": "health-monitor", "kind": "monitor",
           "current": {"cpuPercent": 0.5, "connections": 1}}
        ]}
        """

    @Test("tasks sharing a policy task are summed; only the orchestrator's resources are taken")
    func parsesAndSums() throws {
        let readings = try TMSUsageSource.parse(Data(Self.report.utf8), url: "u")
        #expect(readings.map(\.task) == ["health-monitor", "web"])
        let web = try #require(readings.last)
        #expect(web.values == [.cpuPercent: 15, .connections: 42, .bytesPerSecond: 1500])
        #expect(web.time == 1718000000.5)
    }

    /// The access log's writer is a task of its own: its disk writes reach the policy task
    /// of the log collector, where `offloadWhen: [cpuPercent, diskBytesPerSecond]` judges them.
    @Test("the access log's writer is read as the log collector's task, disk included")
    func accessLogTaskCarriesDisk() throws {
        let body = """
            {"time": 1, "tasks": [
              {"name": "accesslog", "task": "log-collector", "kind": "accesslog",
               "current": {"cpuPercent": 4, "connections": 0, "connectionsPerSecond": 900, "diskBytesPerSecond": 250000}},
              {"name": "vserver/web", "task": "web", "kind": "vserver", "current": {"cpuPercent": 1, "diskBytesPerSecond": 0}}
            ]}
            """
        let readings = try TMSUsageSource.parse(Data(body.utf8), url: "u")
        let log = try #require(readings.first { $0.task == "log-collector" })
        #expect(log.values[.diskBytesPerSecond] == 250_000 && log.values[.cpuPercent] == 4, "\(log.values)")
        #expect(log.values[.connectionsPerSecond] == 900, "records per second, placement-independent: \(log.values)")
    }

    @Test("a body that is not a usage report is an error naming the URL")
    func rejectsGarbage() {
        #expect(throws: UsageSourceError.self) { try TMSUsageSource.parse(Data("<html>".utf8), url: "http://x/usage") }
        #expect(throws: UsageSourceError.self) { try TMSUsageSource(address: "no-port", tokenFile: "/nonexistent") }
    }

    /// A token file as `cvmctl tms run` writes it (mode 0600), in a directory of its own.
    static func tokenFile(mode: mode_t = 0o600) throws -> (path: String, token: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tms-usage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("tms-admin.token").path
        let token = String(repeating: "5a", count: 32)
        try (token + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return (path, token)
    }

    @Test("reads /usage over a real loopback socket; an unreachable endpoint is an error")
    func readsOverHTTP() async throws {
        let server = try OneShotHTTPServer(body: Self.report)
        let (tokenFile, token) = try Self.tokenFile()
        let source = try TMSUsageSource(address: "127.0.0.1:\(server.port)", tokenFile: tokenFile)
        let readings = try await source.read()
        #expect(readings.count == 2)
        let request = server.request()
        #expect(request.hasPrefix("GET /usage HTTP/1.1\r\n"))
        #expect(request.contains("\r\nAuthorization: Bearer \(token)\r\n"), "the admin token goes with every request")
        await #expect(throws: UsageSourceError.self) {
            _ = try await TMSUsageSource(address: "127.0.0.1:\(server.port)", tokenFile: tokenFile).read()
        }
    }

    @Test("a missing or world-readable token file is one line naming the file; nothing is sent")
    func tokenFileProblems() async throws {
        let server = try OneShotHTTPServer(body: Self.report)
        let (open, _) = try Self.tokenFile(mode: 0o644)
        for (file, needle) in [(open, "chmod 600 \(open)"), ("/nonexistent/tms-admin.token", "does not exist")] {
            do {
                _ = try await TMSUsageSource(address: "127.0.0.1:\(server.port)", tokenFile: file).read()
                Issue.record("read usage with token file \(file)")
            } catch {
                #expect("\(error)".contains(needle), "\(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
        // Nothing connected: the server still waits for its first client.
        let (good, _) = try Self.tokenFile()
        #expect(try await TMSUsageSource(address: "127.0.0.1:\(server.port)", tokenFile: good).read().count == 2)
    }

    @Test("non-200 answers are errors with the status")
    func statusErrors() throws {
        let response = Data("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!".utf8)
        #expect(throws: UsageSourceError.self) { try BlockingHTTP.body(of: response) { .unreadable(path: "u", reason: $0) } }
        let refused = Data("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".utf8)
        #expect(throws: UsageSourceError.unreadable(path: "u", reason: "HTTP 401: the traffic manager refused the admin token; use its admin token file (--tms-admin-token-file)")) {
            try BlockingHTTP.body(of: refused) { .unreadable(path: "u", reason: $0) }
        }
        let ok = Data("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing".utf8)
        #expect(try BlockingHTTP.body(of: ok) { .unreadable(path: "u", reason: $0) } == Data("{}".utf8))
    }
}

/// Accepts one connection on 127.0.0.1, reads the request head, answers 200 with `body`,
/// closes, and stops listening.
private final class OneShotHTTPServer: @unchecked Sendable {
    // @unchecked: `received` is written by the server thread before `done` is signalled and
    // read only after waiting on it.
    let port: Int
    private var received = ""
    private let done = DispatchSemaphore(value: 0)

    init(body: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileWriteUnknown) }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in
            let client = accept(fd, nil, nil)
            close(fd)
            var request = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !request.ends(with: Array("\r\n\r\n".utf8)) {
                let count = recv(client, &buffer, buffer.count, 0)
                if count <= 0 { break }
                request += buffer[..<count]
            }
            received = String(decoding: request, as: UTF8.self)
            let response = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
            _ = response.withUnsafeBytes { send(client, $0.baseAddress, $0.count, 0) }
            close(client)
            done.signal()
        }
    }

    func request() -> String {
        done.wait()
        return received
    }
}

private extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
