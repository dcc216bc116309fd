import Foundation
import Testing
@testable import TrafficManager

/// The `cvm:` key of a vServer: parsed strictly, replaced by the serving CVMs when the traffic
/// manager runs it, and turned into the CVM data plane's own configuration, which parses back.
@Suite struct CVMBackendConfigTests {
    static let text = """
    vServers:
      - name: web
        bind: 127.0.0.1:8080
        mode: http
        services: [{ address: 127.0.0.1, port: 8081, capacity: 10 }]
        spillover: { kind: connection, limit: 5, backup: web-cvm }
      - name: web-cvm
        mode: http
        method: leastconn
        connectTimeout: 750ms
        cvm: { task: backup-vserver, port: 8090, capacity: 50 }
        services:
          - { name: "b\\"1", address: 10.77.0.250, port: 9000, capacity: 50, weight: 3 }
          - { address: 10.77.0.251, port: 9000, capacity: 20 }

    """

    /// A folder with cert.pem, key.pem and ca.pem that pass the configuration's file check.
    static func placeholderPEMs() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cvm-pem-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for file in ["cert.pem", "key.pem", "ca.pem"] {
            try "-----BEGIN X-----\n-----END X-----\n".write(toFile: directory + "/" + file, atomically: true, encoding: .utf8)
        }
        return directory
    }

    @Test func theKeyParsesAndTheServingCVMsReplaceTheBackends() throws {
        let config = try TMSConfig.parse(Self.text, file: "t.yaml")
        let vServer = try #require(config.vServer(named: "web-cvm"))
        #expect(vServer.cvm == CVMBackend(task: "backup-vserver", port: 8090, capacity: 50))
        #expect(config.cvmVServers.map(\.name) == ["web-cvm"])
        let running = config.withCVMServices(["web-cvm": [ServiceConfig(name: "bk", address: HostPort(host: "10.77.0.2", port: 8090), capacity: 50)]])
        #expect(running.vServer(named: "web-cvm")?.services.map(\.name) == ["bk"])
        #expect(running.vServer(named: "web")?.services.count == 1, "other vServers keep theirs")
        #expect(config.withCVMServices([:]).vServer(named: "web-cvm")?.services.isEmpty == true)
    }

    @Test func theCVMsOwnConfigurationParsesBackWithTheSameBackends() throws {
        let vServer = try #require(try TMSConfig.parse(Self.text, file: "t.yaml").vServer(named: "web-cvm"))
        let yaml = try #require(TMSConfig.cvmDataPlaneYAML(for: vServer))
        let inside = try TMSConfig.parse(yaml, file: "cvm.yaml")
        let served = try #require(inside.vServers.first)
        #expect(inside.vServers.count == 1 && inside.cores == 1)
        #expect(served.bind == HostPort(host: "0.0.0.0", port: 8090))
        #expect(served.mode == .http && served.method == .leastconn && served.connectTimeout == .milliseconds(750))
        #expect(served.services == vServer.services)
        #expect(served.cvm == nil)
        #expect(TMSConfig.cvmDataPlaneYAML(for: try #require(try TMSConfig.parse(Self.text, file: "t").vServer(named: "web"))) == nil)
    }

    @Test(arguments: [
        ("cvm: { task: backup-vserver, port: 0, capacity: 5 }", "port"),
        ("cvm: { task: backup-vserver, port: 8090 }", "capacity"),
        ("cvm: { task: 'bad task', port: 8090, capacity: 5 }", "task"),
        ("cvm: { task: backup-vserver, port: 8090, capacity: 5, image: x }", "image"),
        ("cvm: backup-vserver", "cvm"),
    ])
    func badKeysAreOneLineNamingTheKey(line: String, key: String) {
        let text = "vServers:\n  - name: b\n    \(line)\n    services: [{ address: 10.0.0.1, port: 1, capacity: 1 }]\n"
        do {
            _ = try TMSConfig.parse(text, file: "b.yaml")
            Issue.record("accepted: \(line)")
        } catch {
            #expect("\(error)".hasPrefix("b.yaml:") && "\(error)".contains(key), "\(error)")
        }
    }
}

extension CVMBackendConfigTests {
    /// A CVM on a public host: its listener and its services are TLS, the services being the
    /// traffic manager's return relays, which relay to the file's backends.
    @Test func theTLSVariantGoesThroughTheReturnRelays() throws {
        let directory = try Self.placeholderPEMs()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try TMSConfig.parse(Self.text, file: "t.yaml")
        let vServer = try #require(config.vServer(named: "web-cvm"))
        let guest = CVMGuestTLS(gateway: "10.77.0.1", certificate: directory + "/cert.pem", key: directory + "/key.pem", ca: directory + "/ca.pem")
        let yaml = try #require(TMSConfig.cvmDataPlaneYAML(for: vServer, tls: guest))
        let inside = try #require(try TMSConfig.parse(yaml, file: "cvm.yaml").vServers.first)
        #expect(inside.tls == TLSConfig(certificate: guest.certificate, key: guest.key, ca: guest.ca))
        #expect(inside.services.map(\.address.description) == ["10.77.0.1:8090", "10.77.0.1:8091"])
        #expect(inside.services.allSatisfy { $0.tls == inside.tls })
        #expect(inside.services.map(\.capacity) == [50, 20] && inside.services.map(\.weight) == [3, 1])

        let own = TLSConfig(certificate: "/tm/cert.pem", key: "/tm/key.pem", ca: "/tm/ca.pem")
        let relayed = config.withCVMReturnRelays(for: ["web-cvm"], gateway: "10.77.0.1", tls: own)
            .withCVMServices(["web-cvm": [ServiceConfig(name: "bk", address: HostPort(host: "10.77.0.2", port: 8090), capacity: 50, tls: own)]])
        let relays = relayed.vServers.filter { $0.name.hasPrefix("web-cvm~return") }
        #expect(relays.map { $0.bind?.description ?? "" } == ["10.77.0.1:8090", "10.77.0.1:8091"])
        #expect(relays.map { $0.services.map(\.address.description) } == [["10.77.0.250:9000"], ["10.77.0.251:9000"]],
                "each relay goes to one of the file's backends, not to the CVMs")
        #expect(relays.allSatisfy { $0.tls == own && $0.mode == .tcp && $0.cvm == nil && $0.task == "cvm-return/web-cvm" })
        #expect(relayed.vServer(named: "web-cvm")?.services.map(\.name) == ["bk"])
        #expect(config.cvmReturnPorts(for: ["web-cvm"]) == [8090, 8091])
        #expect(config.cvmReturnPorts(for: []) == [])

        let custom = try TMSConfig.parse(Self.text.replacingOccurrences(of: "port: 8090, capacity: 50 }", with: "port: 8090, capacity: 50, returnPort: 7000 }"), file: "t.yaml")
        #expect(custom.cvmReturnPorts(for: ["web-cvm"]) == [7000, 7001])
        #expect(throws: (any Error).self) {
            try TMSConfig.parse(Self.text.replacingOccurrences(of: "port: 8090, capacity: 50 }", with: "port: 8090, capacity: 50, returnPort: 65535 }"), file: "t.yaml")
        }
    }
}

extension CVMBackendConfigTests {
    /// A monitoring CVM's configuration: the monitors and monitored vServers (not the ones CVMs
    /// serve), the services in their current states, the publishing end with TLS; it parses back.
    @Test func theMonitoringConfigurationCarriesMonitorsAndStates() throws {
        let directory = try Self.placeholderPEMs()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = try TMSConfig.parse("""
            monitoring: { cvm: { task: health-monitor, port: 8190 } }
            monitors:
              - { name: "check \\"1\\"", kind: http, path: /health, expect: 200-204, interval: 250ms, timeout: 100ms, rise: 3, fall: 4, responseTimeLimit: 80ms, deviation: 150% }
              - { name: unused, kind: tcp }
            vServers:
              - name: web
                bind: 127.0.0.1:8080
                monitor: "check \\"1\\""
                services: [{ name: a, address: 10.77.0.250, port: 9000, capacity: 10 }, { name: b, address: 10.77.0.251, port: 9000, capacity: 5 }]
                spillover: { kind: connection, limit: 5, backup: web-cvm }
              - name: web-cvm
                monitor: "check \\"1\\""
                cvm: { task: backup-vserver, port: 8090, capacity: 50 }
                services: [{ address: 10.77.0.250, port: 9000, capacity: 50 }]
            """, file: "t.yaml")
        #expect(config.monitoring.cvm == MonitoringConfig.CVMMonitoring(task: "health-monitor", port: 8190))
        let guest = CVMGuestTLS(gateway: "10.77.0.1", certificate: directory + "/cert.pem", key: directory + "/key.pem", ca: directory + "/ca.pem")
        let states = [MonitorState(vServer: "web", service: "b", up: false, lastMs: nil, averageMs: nil, samples: 0)]
        let yaml = config.cvmMonitoringYAML(states: states, port: 8190, tls: guest)
        let inside = try TMSConfig.parse(yaml, file: "cvm.yaml")
        #expect(inside.monitoring.publish == HostPort(host: "0.0.0.0", port: 8190))
        #expect(inside.monitoring.publishTLS == TLSConfig(certificate: guest.certificate, key: guest.key, ca: guest.ca))
        #expect(inside.monitors.map(\.name) == ["check \"1\""], "only the monitors in use")
        #expect(inside.monitors.first == config.monitors.first.map { var m = $0; m.task = m.task; return m })
        #expect(inside.vServers.map(\.name) == ["web"], "not the CVM-served vServer")
        #expect(inside.vServers[0].bind == nil && inside.vServers[0].spillover.backup == nil)
        #expect(inside.vServers[0].services.map(\.initiallyUp) == [true, false], "the states handed over")
        #expect(inside.guestProblem == nil)
    }

    /// A monitoring CVM on a public host probes through relays on the gateway, in mutual TLS:
    /// the k-th monitored service at returnPort + k; TCP monitors cannot (a connect to a relay
    /// says nothing about the service).
    @Test func aMonitoringCVMOnAPublicHostProbesThroughTLSRelays() throws {
        let directory = try Self.placeholderPEMs()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = """
            monitoring: { cvm: { task: health-monitor, port: 8190, returnPort: 9300 } }
            monitors:
              - { name: page, kind: http, path: /health }
            vServers:
              - name: web
                bind: 127.0.0.1:8080
                monitor: page
                services: [{ name: a, address: 10.77.0.250, port: 9000, capacity: 10 }, { name: b, address: 10.77.0.251, port: 9000, capacity: 5 }]
              - name: api
                bind: 127.0.0.1:8081
                monitor: page
                services: [{ name: c, address: 10.77.0.252, port: 80, capacity: 1 }]
            """
        let config = try TMSConfig.parse(text, file: "t.yaml")
        #expect(config.publicMonitoringProblem == nil)
        #expect(config.monitoringRelayPorts == [9300, 9301, 9302])
        let guest = CVMGuestTLS(gateway: "10.77.0.1", certificate: directory + "/cert.pem", key: directory + "/key.pem", ca: directory + "/ca.pem")
        let inside = try TMSConfig.parse(config.cvmMonitoringYAML(states: [], port: 8190, tls: guest, relayed: true), file: "cvm.yaml")
        let services = inside.vServers.flatMap(\.services)
        #expect(services.map(\.address.description) == ["10.77.0.1:9300", "10.77.0.1:9301", "10.77.0.1:9302"])
        #expect(services.allSatisfy { $0.tls == TLSConfig(certificate: guest.certificate, key: guest.key, ca: guest.ca) })
        // The relays this traffic manager runs for it: TLS listeners relaying to the services.
        let own = TLSConfig(certificate: directory + "/cert.pem", key: directory + "/key.pem", ca: directory + "/ca.pem")
        let relays = config.withMonitoringRelays(gateway: "10.77.0.1", tls: own).vServers.filter { $0.name.contains("~probe") }
        #expect(relays.map(\.name) == ["web~probe0", "web~probe1", "api~probe2"])
        #expect(relays.map { $0.bind?.description ?? "" } == ["10.77.0.1:9300", "10.77.0.1:9301", "10.77.0.1:9302"])
        #expect(relays.map { $0.services.first?.address.description ?? "" } == ["10.77.0.250:9000", "10.77.0.251:9000", "10.77.0.252:80"])
        #expect(relays.allSatisfy { $0.tls == own && $0.mode == .tcp && $0.monitor == nil })
        // The relays are not monitored vServers themselves.
        #expect(config.withMonitoringRelays(gateway: "10.77.0.1", tls: own).offloadableMonitoredVServers.map(\.name) == ["web", "api"])
        // A TCP monitor cannot go through them; ports past 65535 neither.
        let tcp = try TMSConfig.parse(text.replacingOccurrences(of: "kind: http, path: /health", with: "kind: tcp"), file: "t.yaml")
        #expect(tcp.publicMonitoringProblem?.hasPrefix("monitor page is a TCP monitor") == true)
        let high = try TMSConfig.parse(text.replacingOccurrences(of: "returnPort: 9300", with: "returnPort: 65534"), file: "t.yaml")
        #expect(high.publicMonitoringProblem?.contains("passes port 65535") == true)
    }

    /// What only a guest can tell is wrong: a service on loopback is the CVM itself there.
    @Test func aServiceOnLoopbackIsAProblemInAGuestOnly() throws {
        for address in ["127.0.0.1", "127.3.2.1", "::1", "localhost"] {
            let config = try TMSConfig.parse("""
                vServers:
                  - name: web
                    services: [{ name: ok, address: 10.77.0.250, port: 9000, capacity: 1 }, { name: local, address: "\(address)", port: 9000, capacity: 1 }]
                """, file: "t.yaml")
            let problem = try #require(config.guestProblem, "\(address)")
            #expect(problem.hasPrefix("service local of vServer web is at ") && problem.contains("a loopback address"), "\(problem)")
        }
    }
}
