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
