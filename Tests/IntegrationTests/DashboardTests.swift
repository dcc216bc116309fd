import Foundation
import Synchronization
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's package; the test command
/// installs it) loads `/ui` from a live `cvmctl serve` with real CVMs, a cluster and a
/// traffic manager carrying traffic, and the test reads the DOM it rendered and a screenshot.
@Suite(.serialized) struct DashboardTests {
    /// Requests through the traffic manager's vServer to the daemon's /health, a connection
    /// each (so the vServer's new connections per second are what its plot shows), until stopped.
    final class Traffic: Sendable {
        private let stopped = Atomic(false)
        private let sent = Atomic(0)
        var count: Int { sent.load(ordering: .relaxed) }

        func start(port: Int) {
            Thread.detachNewThread { [self] in
                while !stopped.load(ordering: .relaxed) {
                    if Self.get(port: port).hasPrefix("HTTP/1.1 200") { sent.add(1, ordering: .relaxed) }
                    usleep(20_000)
                }
            }
        }

        func stop() { stopped.store(true, ordering: .relaxed) }

        /// `GET /health` on a new connection, closed by the server; what it answered.
        static func get(port: Int) -> String {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return "" }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: in_port_t(UInt16(port).bigEndian),
                                      sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { return "" }
            let request = Array("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return "" }
            var answer: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while answer.count < 65_536 {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { break }
                answer += buffer[..<count]
            }
            return String(decoding: answer, as: UTF8.self)
        }
    }

    /// `chromium --headless` on `url`: the DOM after scripts ran (`--dump-dom`), or a screenshot.
    static func chromium(_ url: String, screenshot: String? = nil, profile: String) throws -> String {
        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        browser.arguments = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                             "--window-size=1280,2400", "--virtual-time-budget=8000"]
            + (screenshot.map { ["--screenshot=\($0)"] } ?? ["--dump-dom"]) + [url]
        let out = Pipe()
        browser.standardOutput = out
        browser.standardError = FileHandle.nullDevice
        try browser.run()
        let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        browser.waitUntilExit()
        return dom
    }

    /// The value of `attribute` on the first element whose opening tag contains `marker`.
    static func attribute(_ attribute: String, in dom: String, at marker: String) -> String? {
        guard let start = dom.range(of: marker) else { return nil }
        let tagStart = dom[..<start.lowerBound].lastIndex(of: "<") ?? start.lowerBound
        guard let tagEnd = dom[start.upperBound...].firstIndex(of: ">") else { return nil }
        let tag = dom[tagStart..<tagEnd]
        guard let open = tag.range(of: " \(attribute)=\"") else { return nil }
        return String(tag[open.upperBound...].prefix { $0 != "\"" })
    }

    /// The part of the DOM from `<section … id="ID"` to the next section.
    static func section(_ id: String, in dom: String) -> String {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return "" }
        let rest = dom[start.upperBound...]
        return String(rest[..<(rest.range(of: "<section")?.lowerBound ?? rest.endIndex)])
    }

    @Test func theDashboardShowsRealCVMsAClusterAndTheTrafficManagersPlots() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", "dash1")
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let cluster = try cli.run("cluster", "create", "dc", "--image", "cvm-base", "--size", "2")
        #expect(cluster.status == 0, "\(cluster.stderr)")
        defer { _ = try? cli.run("cluster", "delete", "dc") }
        let reader = try #require(try cli.json([String: String].self, "token", "create", "--name", "ui", "--scope", "read")["token"])

        // A traffic manager whose vServer relays to the daemon's own API.
        let (api, vServer, admin) = (CVMBackupTests.freePort(), CVMBackupTests.freePort(), CVMBackupTests.freePort())
        let config = cli.state + "/tms.yaml"
        try """
        cores: 1
        admin: { address: 127.0.0.1:\(admin) }
        usage: { interval: 200ms }
        vServers:
          - name: web
            bind: 127.0.0.1:\(vServer)
            mode: tcp
            task: web-balancing
            services: [{ name: api, address: 127.0.0.1, port: \(api), capacity: 50 }]

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tms = try TmsRun(cli, config: config)
        defer { tms.stop() }
        try #require(eventually(timeout: 10) { FileManager.default.fileExists(atPath: cli.state + "/tms-admin.token") }, "\(tms.text())")

        cli.environment["CVM_TMS_ADMIN"] = "127.0.0.1:\(admin)"
        let daemon = try cli.background(["serve", "--listen", "127.0.0.1:\(api)"], log: cli.state + "/serve.log")
        defer { daemon.stopAndWait() }
        try #require(eventually(timeout: 10) { (try? APITests.request(api, "/health"))?.status == 200 })
        let traffic = Traffic()
        traffic.start(port: vServer)
        defer { traffic.stop() }
        try #require(eventually(timeout: 10) { traffic.count >= 20 }, "no traffic through the vServer: \(tms.text())")

        // The API's side of it: the traffic manager through the daemon, the hosts' load.
        let tmsAnswer = try APITests.request(api, "/v1/tms", token: reader)
        let tasks = ((tmsAnswer.json?["usage"] as? [String: Any])?["tasks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(tmsAnswer.status == 200 && tasks.contains("vserver/web"), "\(tmsAnswer.body.prefix(500))")
        #expect(try eventually(timeout: 15) {
            (try APITests.request(api, "/v1/hosts", token: reader).json?["hosts"] as? [[String: Any]])?.first?["loadPercent"] != nil
        }, "the local host's load is sampled")
        let clusters = try APITests.request(api, "/v1/clusters/dc", token: reader)
        #expect(clusters.status == 200 && clusters.body.contains("\"dc-1\"") && clusters.body.contains("\"dc-2\""))

        // The page, served without a token, with its policy.
        let page = try APITests.request(api, "/ui")
        #expect(page.status == 200 && page.contentType.hasPrefix("text/html"))

        let profile = cli.state + "/chromium"
        let url = "http://127.0.0.1:\(api)/ui#token=\(reader)"
        let dom = try Self.chromium(url, profile: profile)
        #expect(Self.attribute("data-ready", in: dom, at: "<body") == "1", "\(dom.prefix(3000))")
        let cvms = Self.section("cvms", in: dom), hosts = Self.section("hosts", in: dom), clusterPart = Self.section("clusters", in: dom)
        for name in ["dash1", "dc-1", "dc-2"] { #expect(cvms.contains(">\(name)<"), "\(name) in \(cvms.prefix(2000))") }
        #expect(cvms.contains("running"))
        #expect(hosts.contains(">local<"), "\(hosts.prefix(1500))")
        #expect(clusterPart.contains("dc") && clusterPart.contains("dc-2"), "\(clusterPart.prefix(1500))")
        #expect(Self.section("vservers", in: dom).contains("web"))
        #expect(Self.section("events", in: dom).contains("dash1"), "the journal, streamed")
        let points = Int(Self.attribute("data-points", in: dom, at: "data-task=\"vserver/web\"") ?? "") ?? 0
        #expect(points >= 2, "the vServer's plot has its samples")
        let rect = try #require(Self.attribute("data-rect", in: dom, at: "data-task=\"vserver/web\""), "\(Self.section("plots", in: dom).prefix(1500))")
        let numbers = rect.split(separator: ",").compactMap { Double($0) }
        try #require(numbers.count == 4)

        // The screenshot shows the plot: lines in its rectangle, not a blank box.
        let shot = cli.state + "/dashboard.png"
        _ = try Self.chromium(url, screenshot: shot, profile: profile)
        if let keep = ProcessInfo.processInfo.environment["CVM_KEEP_SCREENSHOT"] { try? FileManager.default.copyItem(atPath: shot, toPath: keep) }
        let rects = #"[{"name":"plot","x":\#(numbers[0]),"y":\#(numbers[1]),"width":\#(numbers[2]),"height":\#(numbers[3])}]"#
        let (checked, report) = try APITests.tool(["python3", CLIHarness.repoRoot + "/scripts/screenshot-check.py", shot, rects])
        let figures = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any], "\(report)")
        let drawn = figures["nonBackground"] as? Int ?? 0
        #expect(checked == 0 && drawn > 500 && (figures["distinctColors"] as? Int ?? 0) > 3,
                "the plot's pixels: \(report)")
    }
}
