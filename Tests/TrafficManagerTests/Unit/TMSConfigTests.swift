import Foundation
import Testing
import TMSCore
@testable import TrafficManager

@Suite struct TMSConfigTests {
    static let sample = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/tms.sample.yaml").path

    @Test("the documented sample parses, with its values")
    func sampleParses() throws {
        let config = try TMSConfig.load(file: Self.sample)
        #expect(config.cores == 2)
        #expect(config.admin.address == HostPort(host: "127.0.0.1", port: 9901))
        #expect(config.drainTimeout == .seconds(10))
        #expect(config.vServers.map(\.name) == ["web", "web-overflow", "db"])
        let web = try #require(config.vServer(named: "web"))
        #expect(web.mode == .http)
        #expect(web.services.map(\.weight) == [2, 1])
        #expect(web.spillover.backup == "web-overflow")
        #expect(web.spillover.persistence == .seconds(30))
        #expect(web.spillover.queue == .init(size: 100, timeout: .milliseconds(500)))
        #expect(web.task == "web-balancing")
        #expect(web.stickiness == .seconds(600))
        let check = try #require(config.monitor(named: "web-check"))
        #expect(check.kind == .http(path: "/health", expect: 200...399))
        #expect(check.deviationPercent == 300)
        #expect(check.responseTimeLimit == .milliseconds(500))
        #expect(config.vServer(named: "db")?.services.first?.address == HostPort(host: "127.0.0.1", port: 5432))
        #expect(config.vServer(named: "db")?.task == "vserver/db")
        #expect(config.accessLog.file == "/var/log/cvmctl/tms-access.log" && config.accessLog.keep == 5 && config.accessLog.spool == nil)
        let chain = try config.backupChain()
        #expect(chain.chain(from: "web") == ["web", "web-overflow"])
        #expect(chain.endAction(from: "web") == .redirect(url: "https://sorry.example.com/busy"))
    }

    @Test("access log settings: each mistake is one line naming the key")
    func accessLogErrors() throws {
        let tail = "\nvServers: [{ name: a, bind: \"127.0.0.1:8080\", services: [{ address: 127.0.0.1, port: 9000, capacity: 10 }] }]\n"
        let cases: [(String, String)] = [
            ("accessLog: { file: relative.log }", "absolute path"),
            ("accessLog: { cvm: { task: log-collector, port: 7480 } }", "needs a spool"),
            ("accessLog: { spool: { dir: /tmp/s } }", "only used when records are shipped"),
            ("accessLog: { spool: { dir: /tmp/s, maxBytes: 10 }, ship: \"10.0.0.1:7480\" }", "maxBytes"),
            ("accessLog: { spool: { dir: /tmp/s }, ship: \"somewhere:7480\" }", "HOST:PORT"),
            ("accessLog: { spool: { dir: /tmp/s }, cvm: { task: \"log collector\", port: 7480 } }", "task name"),
            ("accessLog: { collector: { listen: \"0.0.0.0:7480\" } }", "device"),
            ("accessLog: { rotate: 5 }", "rotate"),
        ]
        for (yaml, expected) in cases {
            do {
                _ = try TMSConfig.parse(yaml + tail, file: "t.yaml")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect("\(error)".contains(expected), "\(yaml): \(error)")
                #expect(!"\(error)".contains("\n"))
            }
        }
        // A collector alone needs no vServer (what a log-collector CVM runs).
        let collector = try TMSConfig.parse("accessLog: { collector: { listen: \"0.0.0.0:7480\", device: /dev/vda, offset: 1048576 } }", file: "c.yaml")
        #expect(collector.vServers.isEmpty && collector.accessLog.collector?.offset == 1 << 20)
    }

    static let minimal = """
        vServers:
          - name: a
            bind: 127.0.0.1:8080
            services: [{ address: 127.0.0.1, port: 9000, capacity: 10 }]
        """

    @Test("defaults")
    func defaults() throws {
        let config = try TMSConfig.parse(Self.minimal, file: "m.yaml")
        #expect(config.cores == nil)
        #expect(config.admin.address == AdminConfig.defaultAddress)
        #expect(config.drainTimeout == .seconds(30))
        let vServer = try #require(config.vServers.first)
        #expect(vServer.mode == .tcp)
        #expect(vServer.method == .roundrobin)
        #expect(vServer.spillover.kind == .dynamic)
        #expect(vServer.spillover.poolConfig(cores: 2, dynamicLimit: 10) == PoolConfig(limit: 10, cores: 2))
        #expect(vServer.services.first?.name == "127.0.0.1:9000")
        #expect(vServer.services.first?.weight == 1)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let yaml: String
        let line: Int
        let key: String
        let problem: String
        var testDescription: String { "\(key): \(problem)" }
    }

    static let errors: [Case] = [
        Case(yaml: "vServers:\n  - name: a\n    bnd: 127.0.0.1:1\n", line: 3, key: "vServers[0].bnd", problem: "unknown key"),
        Case(yaml: "colours: 3\n", line: 1, key: "colours", problem: "unknown key"),
        Case(yaml: "vServers: []\n", line: 1, key: "vServers", problem: "at least one vServer"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1 }]\n", line: 3,
             key: "vServers[0].services[0].capacity", problem: "required key is missing"),
        Case(yaml: "vServers:\n  - name: a\n    bind: 127.0.0.1:99999\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 3, key: "vServers[0].bind", problem: "expected HOST:PORT"),
        Case(yaml: "vServers:\n  - name: a\n    idleTimeout: soon\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 3, key: "vServers[0].idleTimeout", problem: "expected a duration"),
        Case(yaml: "vServers:\n  - name: a\n    mode: udp\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 3, key: "vServers[0].mode", problem: "expected one of: tcp, http"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { backup: b }\n",
             line: 4, key: "vServers[0].spillover.backup", problem: "no vServer named b"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { redirect: \"http://x/\" }\n",
             line: 4, key: "vServers[0].spillover.redirect", problem: "only HTTP vServers redirect"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { kind: connection }\n",
             line: 4, key: "vServers[0].spillover.limit", problem: "required key is missing"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { limit: 5 }\n",
             line: 4, key: "vServers[0].spillover.limit", problem: "only for kind: connection"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    monitor: nope\n",
             line: 4, key: "vServers[0].monitor", problem: "no monitor named nope"),
        Case(yaml: "admin: { address: 10.0.0.1:9901 }\n" + minimal, line: 1, key: "admin.address", problem: "loopback"),
        Case(yaml: "monitors:\n  - { name: m, kind: tcp, path: /x }\n" + minimal, line: 2, key: "monitors[0].path", problem: "only for kind: http"),
        Case(yaml: "monitors:\n  - { name: m, fall: 0 }\n" + minimal, line: 2, key: "monitors[0].fall", problem: "out of range"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { t1: 120% }\n",
             line: 4, key: "vServers[0].spillover.t1", problem: "expected a percentage"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 4, key: "vServers[1].name", problem: "defined twice"),
        Case(yaml: "vServers:\n  - name: a\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { backup: b }\n"
                 + "  - name: b\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { backup: a }\n",
             line: 1, key: "vServers", problem: "backup chain has a cycle: a -> b -> a"),
        Case(yaml: "vServers:\n  - name: a\n    bind: 127.0.0.1:80\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n"
                 + "  - name: b\n    bind: 127.0.0.1:80\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 6, key: "vServers[1].bind", problem: "already the address of vServer a"),
        Case(yaml: "vServers:\n  - name: a\n    routing: request\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 3, key: "vServers[0].routing", problem: "routing: request needs mode: http"),
        Case(yaml: "vServers:\n  - name: a\n    mode: http\n    routing: per-packet\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 4, key: "vServers[0].routing", problem: "expected one of: connection, request"),
        Case(yaml: "vServers:\n  - name: a\n    mode: http\n    quotaCounts: requests\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 4, key: "vServers[0].quotaCounts", problem: "needs routing: request"),
        Case(yaml: "vServers:\n  - name: a\n    mode: http\n    tunnelTimeout: 1h\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 4, key: "vServers[0].tunnelTimeout", problem: "for the WebSocket tunnels of routing: request"),
        Case(yaml: "vServers:\n  - name: a\n    mode: http\n    routing: request\n    tunnelTimeout: 169h\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 5, key: "vServers[0].tunnelTimeout", problem: "out of range"),
        Case(yaml: "vServers:\n  - name: a\n    mode: http\n    routing: request\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n    spillover: { backup: b }\n"
                 + "  - name: b\n    mode: http\n    services: [{ address: 127.0.0.1, port: 1, capacity: 1 }]\n",
             line: 6, key: "vServers[0].spillover.backup", problem: "a chain routes one way"),
        Case(yaml: "vServers: [\n", line: 2, key: "-", problem: "not valid YAML"),
    ]

    @Test("errors name the file, the line and the key", arguments: errors)
    func errorsAreLocated(_ example: Case) {
        do {
            _ = try TMSConfig.parse(example.yaml, file: "bad.yaml")
            Issue.record("accepted: \(example.yaml)")
        } catch {
            #expect(error.file == "bad.yaml")
            #expect(error.line == example.line, "\(error)")
            #expect(error.key == example.key, "\(error)")
            #expect(error.problem.contains(example.problem), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml:\(example.line):"))
        }
    }

    @Test("an unreadable file is an error naming it")
    func unreadableFile() {
        #expect(throws: ConfigError.self) { try TMSConfig.load(file: "/nonexistent/tms.yaml") }
    }
}
