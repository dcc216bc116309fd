import ConfigFile
import Planning
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TMS task usage read from the traffic manager's admin endpoint (`GET /usage`, served by
/// `cvmctl tms run`), once per elastic evaluation.
///
/// Each task of the report carries the policy task it belongs to (`task`) and its current
/// usage (`current`); readings of tasks that share a policy task are summed. Only the
/// resources the orchestrator knows are taken (`cpuPercent`, `connections`, `bytesPerSecond`,
/// and `memoryMiB`/`diskBytesPerSecond` if the endpoint ever reports them).
///
/// The HTTP/1.1 request is a tiny blocking client over a socket (no HTTP library in the
/// orchestrator), run on a thread of its own so it never blocks the cooperative pool; it
/// gives up after `timeout`. Meant for the loopback address of a local traffic manager.
///
/// Every request carries `Authorization: Bearer <token>`, the token being re-read from
/// `tokenFile` (the traffic manager's admin token file, mode 0600) at each read: an
/// endpoint that does not know the token answers 401, and its figures are never used.
public struct TMSUsageSource: UsageSource {
    public let host: String
    public let port: Int
    public let tokenFile: String
    public var timeout: Duration

    /// - Parameters:
    ///   - address: `HOST:PORT` (an IP address; `localhost` means 127.0.0.1).
    ///   - tokenFile: the traffic manager's admin token file.
    public init(address: String, tokenFile: String, timeout: Duration = .seconds(5)) throws(UsageSourceError) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65_535).contains(port) else {
            throw .unreadable(path: address, reason: "expected HOST:PORT")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        self.host = host
        self.port = port
        self.tokenFile = tokenFile
        self.timeout = timeout
    }

    public var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/usage" }
    public var description: String { "traffic manager usage \(url)" }

    public func read() async throws -> [TaskUsageReading] {
        let (host, port, timeout, url, tokenFile) = (self.host, self.port, self.timeout, self.url, self.tokenFile)
        let body: Data = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { () throws(UsageSourceError) -> Data in
                    let token: String
                    do throws(TokenFile.Failure) {
                        token = try TokenFile.read(path: tokenFile)
                    } catch {
                        throw .unreadable(path: url, reason: error.description)
                    }
                    return try BlockingHTTP.get(path: "/usage", host: host, port: port, token: token, timeout: timeout, url: url)
                })
            }
        }
        return try Self.parse(body, url: url)
    }

    /// The readings in a `/usage` report, summed per policy task.
    public static func parse(_ body: Data, url: String) throws(UsageSourceError) -> [TaskUsageReading] {
        struct Report: Decodable {
            struct Task: Decodable {
                var task: String
                var current: [String: Double]
            }
            var time: Double?
            var tasks: [Task]
        }
        let report: Report
        do {
            report = try JSONDecoder().decode(Report.self, from: body)
        } catch {
            throw .unreadable(path: url, reason: "not a usage report: \(error)")
        }
        var sums: [String: [UsageResource: Double]] = [:]
        for task in report.tasks {
            var values = sums[task.task] ?? [:]
            for resource in UsageResource.planned {
                if let value = task.current[resource.rawValue], value.isFinite, value >= 0 {
                    values[resource, default: 0] += value
                }
            }
            sums[task.task] = values
        }
        return sums.keys.sorted().map { TaskUsageReading(task: $0, time: report.time, values: sums[$0]!) }
    }
}

/// A minimal blocking HTTP/1.1 GET over a socket: `Connection: close`, the body is what
/// follows the header up to EOF (or `Content-Length`). Status other than 200 is an error.
enum BlockingHTTP {
    static func get(path: String, host: String, port: Int, token: String, timeout: Duration, url: String) throws(UsageSourceError) -> Data {
        func fail(_ reason: String) -> UsageSourceError { .unreadable(path: url, reason: reason) }
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { throw fail("\(host) is not an IP address") }
            withUnsafeBytes(of: address) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            family = AF_INET6
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw fail("\(host) is not an IP address") }
            withUnsafeBytes(of: address) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            family = AF_INET
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw fail("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let (seconds, attoseconds) = timeout.components
        var limit = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { throw fail("connect: \(String(cString: strerror(errno))) (is `cvmctl tms run` running?)") }
        guard token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { throw fail("the admin token holds characters a header cannot carry") }
        let request = Array(("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: application/json\r\n"
            + "Authorization: Bearer \(token)\r\nConnection: close\r\n\r\n").utf8)
        var sent = 0
        while sent < request.count {
            let written = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw fail("send: \(String(cString: strerror(errno)))") }
            sent += written
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            guard count > 0 else { throw fail("recv: \(String(cString: strerror(errno)))") }
            response.append(contentsOf: chunk[..<count])
            guard response.count <= 64 << 20 else { throw fail("response larger than 64 MiB") }
        }
        return try body(of: response, fail: fail)
    }

    /// Splits a complete HTTP/1.1 response; the body if the status is 200.
    static func body(of response: Data, fail: (String) -> UsageSourceError) throws(UsageSourceError) -> Data {
        guard let end = response.firstRange(of: Data("\r\n\r\n".utf8)) else { throw fail("incomplete HTTP response") }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let status = lines.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        var body = response[end.upperBound...]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length",
               let length = Int(parts[1].trimmingCharacters(in: .whitespaces)), length <= body.count {
                body = body.prefix(length)
            }
        }
        if status == 401 {
            throw fail("HTTP 401: the traffic manager refused the admin token; use its admin token file (--tms-admin-token-file)")
        }
        guard status == 200 else {
            throw fail("HTTP \(status.map(String.init) ?? "?"): \(String(decoding: body.prefix(200), as: UTF8.self))")
        }
        return Data(body)
    }
}
