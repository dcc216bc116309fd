import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `cvmctl serve` against the real libvirtd, over real HTTP: the API generated from
/// Sources/OrchestratorAPI/openapi.yaml, its bearer tokens (hashed in the store, revocable at
/// once, scoped), problem bodies for bad input, a real CVM seen through it, and schemathesis
/// (a checker nobody here wrote) finding every answer conforming to the document.
@Suite(.serialized) struct APITests {
    struct Answer {
        var status: Int
        var body: String
        var contentType: String
        var headers: [String: String]
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    }

    /// One request, waited for (5 s at most).
    static func request(_ port: Int, _ path: String, method: String = "GET", token: String? = nil, json: String? = nil) throws -> Answer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!, timeoutInterval: 5)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(json.utf8)
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Answer, any Error> = .failure(URLError(.timedOut))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (key, value) in http.allHeaderFields { headers["\(key)".lowercased()] = "\(value)" }
                result = .success(Answer(status: http.statusCode, body: String(decoding: data ?? Data(), as: UTF8.self),
                                         contentType: headers["content-type"] ?? "", headers: headers))
            } else {
                result = .failure(error ?? URLError(.badServerResponse))
            }
            done.signal()
        }.resume()
        done.wait()
        return try result.get()
    }

    @Test func tokensProblemsARealCVMAndSchemathesis() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "reader", "--scope", "read")["token"])
        let admin = try #require(try cli.json([String: String].self, "token", "create", "--name", "ops", "--scope", "admin")["token"])
        #expect(reader.hasPrefix("cvm_") && admin != reader)
        // Only hashes are stored: neither token's text is in the database file.
        let database = try Data(contentsOf: URL(fileURLWithPath: cli.state + "/state.sqlite"))
        #expect(database.range(of: Data(reader.utf8)) == nil && database.range(of: Data(admin.utf8)) == nil)

        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        func log() -> String { (try? String(contentsOfFile: cli.state + "/serve.log", encoding: .utf8)) ?? "" }
        try #require(eventually(timeout: 10) { (try? Self.request(port, "/health"))?.status == 200 }, "no /health: \(log())")

        // Health without a token, with the CLI's version.
        let version = try cli.run("--version").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try Self.request(port, "/health").json?["version"] as? String == version)

        // No token, a made-up one: 401 with a problem body.
        for token in [nil, "cvm_00000000_" + String(repeating: "ab", count: 32), String(repeating: "x", count: 5000)] {
            let refused = try Self.request(port, "/v1/cvms", token: token)
            #expect(refused.status == 401 && refused.contentType.hasPrefix("application/problem+json"), "\(refused)")
            #expect(refused.json?["status"] as? Int == 401 && refused.headers["www-authenticate"] == "Bearer")
        }
        // A read token reads, but may not write.
        #expect(try Self.request(port, "/v1/cvms", token: reader).status == 200)
        #expect(try Self.request(port, "/v1/cvms", method: "POST", token: reader).status == 403)

        // The event stream, opened before the deploy: its events arrive as they are recorded.
        let stream = try SSEReader(port: port, path: "/v1/events/stream?kind=deploy.&cvm=seen", token: reader)
        defer { stream.close() }

        // A real CVM, seen through the API while it heartbeats.
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--task", "health-monitor", "--name", "seen")
        try #require(deployed.status == 0, "\(deployed.stderr)")
        let listed = try #require(try eventually(timeout: 15) {
            let cvms = (try? Self.request(port, "/v1/cvms?task=health-monitor", token: reader))?.json?["cvms"] as? [[String: Any]]
            return cvms?.first { $0["name"] as? String == "seen" && ($0["lastHeartbeatAgeSeconds"] as? Double ?? 99) < 3 } != nil
        } ? Self.request(port, "/v1/cvms/seen", token: reader) : nil, "the CVM never showed heartbeating: \(log())")
        #expect(listed.status == 200 && listed.json?["state"] as? String == "running" && listed.json?["host"] as? String == "local",
                "\(listed.body)")
        #expect((try Self.request(port, "/v1/cvms?task=log-collector", token: reader).json?["cvms"] as? [Any])?.isEmpty == true)
        let events = try Self.request(port, "/v1/events?kind=deploy.&cvm=seen", token: reader).json?["events"] as? [[String: Any]] ?? []
        #expect(events.contains { $0["kind"] as? String == "deploy.done" }, "\(events)")
        #expect(eventually(timeout: 5) { stream.text.contains("event: deploy.done") }, "the stream: \(stream.text.suffix(1500))")
        #expect(stream.text.contains("HTTP/1.1 200") && stream.text.lowercased().contains("content-type: text/event-stream"))
        #expect(!stream.text.contains("event: elastic") && stream.text.contains("\"cvm\":\"seen\""), "only what the filters ask for")
        for (path, token, status) in [("/v1/events/stream?after=-1", reader, 400), ("/v1/events/stream?kind=", reader, 400),
                                      ("/v1/events/stream?cvm=", reader, 400), ("/v1/events/stream", nil, 401)] as [(String, String?, Int)] {
            let answer = try Self.request(port, path, token: token)
            #expect(answer.status == status && answer.contentType.hasPrefix("application/problem+json"), "\(path): \(answer)")
        }

        // Metrics: the CVM by state and host, its heartbeat age, the requests so far; promtool
        // (Prometheus's own checker) finds nothing to say.
        let metrics = try Self.request(port, "/metrics", token: reader)
        #expect(metrics.status == 200 && metrics.body.contains(#"cvmctl_cvms{state="running",host="local"} 1"#), "\(metrics.body.prefix(3000))")
        #expect(metrics.body.contains(#"cvmctl_cvm_heartbeat_age_seconds{cvm="seen"}"#))
        #expect(metrics.body.contains(#"cvmctl_api_requests_total{method="GET",route="/v1/cvms",status="401"}"#))
        #expect(try Self.request(port, "/metrics").status == 401, "metrics need a token too")
        let (promtool, verdict) = try Self.promtool(metrics.body)
        #expect(promtool == 0 && verdict.isEmpty, "promtool check metrics: \(verdict)")

        // Bad input: unknown CVM, bad parameters, an unknown method: problem bodies, never 5xx.
        for (path, method, status) in [("/v1/cvms/nope", "GET", 404), ("/v1/events?limit=0", "GET", 400), ("/v1/events?limit=abc", "GET", 400),
                                       ("/v1/events?after=-1", "GET", 400), ("/v1/cvms?state=sleeping", "GET", 400),
                                       ("/v1/hosts", "DELETE", 405), ("/v1/nothing", "GET", 404)] {
            let answer = try Self.request(port, path, method: method, token: admin)
            #expect(answer.status == status && answer.contentType.hasPrefix("application/problem+json"), "\(method) \(path): \(answer)")
        }

        // RFC 3339 times with and without fractional seconds; not a time at all is a 400.
        for (since, status) in [("2026-12-04T08:00:00Z", 200), ("2026-12-04T08:00:00.25Z", 200), ("2026-12-04T08:00:00.25%2B01:00", 200),
                                ("yesterday", 400), (String(repeating: "9", count: 100), 400)] {
            #expect(try Self.request(port, "/v1/events?since=\(since)", token: admin).status == status, "since=\(since)")
        }

        // Schemathesis against the live daemon, a real CVM in the store: every answer conforms.
        // Reads with the admin token; the writes (deploy, migrate, decommission, host and image
        // changes: a valid build would rebuild the image the other tests deploy) with invalid
        // input only (`--mode negative`: every request must get a 4xx), so the checker does not
        // deploy CVMs of its own; `longOperations...` below deploys through the API for real.
        // The event stream never ends by itself, so schemathesis would read each valid request
        // until its own timeout (6 minutes in all): its answers are checked above and below.
        let writes = ["deployCVM", "migrateCVM", "decommissionCVM", "applyPolicy", "createCluster", "deleteCluster", "healCluster",
                      "addHost", "removeHost", "probeHost", "buildImage", "verifyImage"]
        for (what, extra) in [("reads", (writes + ["streamEvents"]).flatMap { ["--exclude-operation-id", $0] }),
                              ("writes, invalid input", writes.flatMap { ["--include-operation-id", $0] } + ["--mode", "negative", "--suppress-health-check", "filter_too_much"])] {
            let (status, report) = try Self.schemathesis(port: port, token: admin, extra)
            let summary = report.split(separator: "\n").filter { $0.contains("generated") || $0.contains("passed") || $0.contains("failures") }
            print("APITests: schemathesis (\(what)): \(summary.joined(separator: " | "))")
            #expect(status == 0, "schemathesis found problems (\(what)):\n\(report.suffix(4000))")
        }

        // A revoked token is refused at once.
        let readerID = String(reader.split(separator: "_")[1])
        #expect(try cli.run("token", "revoke", readerID).status == 0)
        #expect(try Self.request(port, "/v1/cvms", token: reader).status == 401)
        #expect(try cli.run("token", "revoke", readerID).status != 0, "revoking twice says so")
        let removed = try cli.run("decommission", "seen", "--grace", "0")
        #expect(removed.status == 0, "\(removed.stderr)")
    }

    /// Deploy, decommission, a deploy that times out and one cancelled midway, each as an
    /// operation polled to its end; the failed and the cancelled ones leave nothing behind.
    @Test func longOperationsArePolledAndCancelledWithoutLeftovers() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let admin = try #require(try cli.json([String: String].self, "token", "create", "--name", "ops", "--scope", "admin")["token"])
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "ro", "--scope", "read")["token"])
        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(port)", "--log-format", "json"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        func log() -> String { (try? String(contentsOfFile: cli.state + "/serve.log", encoding: .utf8)) ?? "" }
        try #require(eventually(timeout: 10) { (try? Self.request(port, "/health"))?.status == 200 }, "no /health: \(log())")

        /// Starts an operation; polls it to its end (at most `timeout` s); the final state.
        func finish(_ started: Answer, timeout: Double = 60) throws -> [String: Any] {
            let id = try #require(started.json?["id"] as? String, "\(started)")
            var last: [String: Any] = [:]
            _ = try eventually(timeout: timeout) {
                last = (try? Self.request(port, "/v1/operations/\(id)", token: reader).json) ?? [:]
                return last["state"] as? String != "running"
            }
            return last
        }

        // Writes need an admin token, and a valid body.
        #expect(try Self.request(port, "/v1/cvms", method: "POST", token: reader, json: #"{"image": "cvm-base"}"#).status == 403)
        for body in ["{", #"{"name": "x"}"#, #"{"image": "cvm-base", "colour": "red"}"#, #"{"image": "cvm-base", "vcpus": 0}"#] {
            let refused = try Self.request(port, "/v1/cvms", method: "POST", token: admin, json: body)
            #expect(refused.status == 400 && refused.contentType.hasPrefix("application/problem+json"), "\(body): \(refused)")
        }
        #expect(try Self.request(port, "/v1/cvms/ghost", method: "DELETE", token: admin).status == 404)
        #expect(try Self.request(port, "/v1/cvms/ghost/migration", method: "POST", token: admin, json: #"{"to": "cloud"}"#).status == 404)
        #expect(try Self.request(port, "/v1/operations/nothing", token: reader).status == 404)

        // A deploy through the API: accepted at once, then succeeded with the CVM heartbeating.
        let started = try Self.request(port, "/v1/cvms", method: "POST", token: admin,
                                       json: #"{"image": "cvm-base", "name": "api1", "task": "health-monitor"}"#)
        #expect(started.status == 202 && started.json?["state"] as? String == "running", "\(started)")
        let deployed = try finish(started)
        #expect(deployed["state"] as? String == "succeeded" && deployed["cvm"] as? String == "api1", "\(deployed)")
        #expect(try cli.status().cvms.contains { $0.name == "api1" && $0.state == "running" })
        let ended = try Self.request(port, "/v1/operations/\(deployed["id"] as? String ?? "")/cancel", method: "POST", token: admin)
        #expect(ended.status == 409, "cancelling an ended operation: \(ended)")

        // A deploy whose first heartbeat cannot come in time: failed, nothing left.
        let late = try finish(try Self.request(port, "/v1/cvms", method: "POST", token: admin,
                                                json: #"{"image": "cvm-base", "name": "late", "timeoutSeconds": 1}"#))
        #expect(late["state"] as? String == "failed" && (late["error"] as? String ?? "").contains("heartbeat"), "\(late)")
        #expect(try cli.traces(of: "late") == [])

        // A deploy cancelled midway: cancelled, rolled back, nothing left.
        let doomed = try Self.request(port, "/v1/cvms", method: "POST", token: admin, json: #"{"image": "cvm-base", "name": "doomed"}"#)
        let doomedID = try #require(doomed.json?["id"] as? String)
        Thread.sleep(forTimeInterval: 1.5)
        let cancel = try Self.request(port, "/v1/operations/\(doomedID)/cancel", method: "POST", token: admin)
        #expect(cancel.status == 202 && cancel.json?["cancelRequested"] as? Bool == true, "\(cancel)")
        let cancelled = try finish(doomed)
        #expect(cancelled["state"] as? String == "cancelled", "\(cancelled)")
        #expect(try cli.traces(of: "doomed") == [])

        // Decommission through the API.
        let removed = try finish(try Self.request(port, "/v1/cvms/api1?grace=5", method: "DELETE", token: admin))
        #expect(removed["state"] as? String == "succeeded", "\(removed)")
        #expect(try cli.traces(of: "api1") == [])
        let listed = try Self.request(port, "/v1/operations", token: reader).json?["operations"] as? [[String: Any]] ?? []
        #expect(listed.map { $0["kind"] as? String ?? "" } == ["deploy", "deploy", "deploy", "decommission"], "\(listed)")
        let metrics = try Self.request(port, "/metrics", token: reader).body
        for line in [#"cvmctl_operations_total{kind="deploy",state="succeeded"} 1"#, #"cvmctl_operations_total{kind="deploy",state="failed"} 1"#,
                     #"cvmctl_operations_total{kind="deploy",state="cancelled"} 1"#, #"cvmctl_operations_total{kind="decommission",state="succeeded"} 1"#,
                     #"cvmctl_operation_duration_seconds_count{kind="deploy",state="succeeded"} 1"#] {
            #expect(metrics.contains(line), "\(line) in \(metrics.prefix(4000))")
        }
        let (promtool, verdict) = try Self.promtool(metrics)
        #expect(promtool == 0 && verdict.isEmpty, "promtool check metrics: \(verdict)")

        // --log-format json: every line the daemon logged, to its stop, is one JSON object.
        daemon.stopAndWait()
        let lines = log().split(separator: "\n")
        let entries = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(entries.count == lines.count && entries.count >= 2, "\(log())")
        #expect(entries.contains { $0["message"] as? String == "API listening" && $0["level"] as? String == "info" }, "\(log())")
    }

    /// `promtool check metrics` on `text`: its exit status and what it said.
    static func promtool(_ text: String) throws -> (Int32, String) {
        let (status, said) = try tool(["promtool", "check", "metrics"], input: text)
        return (status, said.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs `arguments` (a program found on PATH, then its arguments) with `input` on stdin:
    /// its exit status and everything it wrote.
    static func tool(_ arguments: [String], input: String = "") throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdin = Pipe(), output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, said)
    }

    /// `schemathesis run` on the document against the daemon: its exit status and report.
    static func schemathesis(port: Int, token: String, _ arguments: [String]) throws -> (Int32, String) {
        let checker = Process()
        checker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        checker.arguments = ["schemathesis", "run", CLIHarness.repoRoot + "/Sources/OrchestratorAPI/openapi.yaml",
                             "--url", "http://127.0.0.1:\(port)", "-H", "Authorization: Bearer \(token)",
                             "--checks", "all", "--max-examples", "50", "--seed", "1"] + arguments
        let out = Pipe()
        checker.standardOutput = out
        checker.standardError = out
        try checker.run()
        let report = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        checker.waitUntilExit()
        return (checker.terminationStatus, report)
    }

    @Test func aNonLoopbackAddressIsRefusedInOneLine() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        for address in ["0.0.0.0:9911", "10.1.2.3:9911", "127.0.0.1:0", "127.0.0.1:99999", "nowhere:80"] {
            let out = try cli.run("serve", "--listen", address)
            #expect(out.status != 0 && out.errorLines.count == 1, "\(address): \(out.stderr)")
        }
        #expect(try cli.run("serve", "--listen", "0.0.0.0:9911").stderr.contains("loopback"))
        #expect(try cli.run("token", "create", "--name", "x", "--scope", "root").status != 0)
    }

    /// Runs `openssl` with `arguments` (and `input` on stdin): its status and output.
    static func openssl(_ arguments: [String], input: String = "") throws -> (Int32, String) {
        try tool(["openssl"] + arguments, input: input)
    }

    /// With a certificate and key the API serves HTTPS, and may then listen off loopback
    /// (here on every address, asked on loopback); plain HTTP gets nothing. A key others may
    /// read, a key that is not the certificate's, or one file without the other: one line.
    @Test func withTLSTheAPIServesHTTPSOnAnyAddress() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let (certificate, key, other) = (cli.state + "/api.crt", cli.state + "/api.key", cli.state + "/other.key")
        let made = try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                                     "-out", certificate, "-days", "2", "-subj", "/CN=cvmctl", "-addext", "subjectAltName=IP:127.0.0.1"])
        try #require(made.0 == 0, "\(made.1)")
        _ = try Self.openssl(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other])
        chmod(key, 0o600)
        chmod(other, 0o600)

        let port = CVMBackupTests.freePort()
        let daemon = try cli.background(["serve", "--listen", "0.0.0.0:\(port)", "--tls-certificate", certificate, "--tls-key", key,
                                         "--without-monitor"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        let request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        let verified = ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", certificate, "-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet"]
        #expect(eventually(timeout: 10) { ((try? Self.openssl(verified, input: request))?.1 ?? "").contains(#""status":"ok""#) },
                "HTTPS with the certificate verified: \((try? String(contentsOfFile: cli.state + "/serve.log", encoding: .utf8)) ?? "")")
        #expect((try? Self.request(port, "/health")) == nil, "plain HTTP gets no answer")
        daemon.stopAndWait()

        chmod(key, 0o644)
        for (arguments, text) in [(["--tls-certificate", certificate, "--tls-key", key], "run `chmod 600"),
                                  (["--tls-certificate", certificate, "--tls-key", other], "does not belong to --tls-certificate"),
                                  (["--tls-certificate", certificate], "--tls-certificate and --tls-key go together"),
                                  (["--tls-certificate", "/etc/hostname", "--tls-key", other], "not a readable PEM certificate")] {
            let out = try cli.run(["serve", "--listen", "0.0.0.0:\(port)", "--without-monitor"] + arguments)
            #expect(out.status == 1 && out.errorLines.count == 1 && out.stderr.contains(text), "\(arguments): \(out.stderr)")
        }
    }
}

/// A raw HTTP/1.1 client that sends one GET and keeps what comes back, on a thread of its
/// own, until closed: for a response that does not end (Server-Sent Events).
final class SSEReader: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var received: [UInt8] = []

    var text: String { lock.withLock { String(decoding: received, as: UTF8.self) } }

    init(port: Int, path: String, token: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(); throw URLError(.cannotConnectToHost) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let socketFD = fd
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(socketFD, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return }
                lock.withLock { received += buffer[..<count] }
            }
        }
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); _ = Glibc.close(fd) }
}
