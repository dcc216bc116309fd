@testable import Libvirt
import Foundation
import Orchestrator

/// The cloud hosts `scripts/testbed.sh up` made (read from its hosts.json).
struct TestBedHosts: Decodable {
    struct Host: Decodable {
        var name: String
        var address: String
        var identity: String
        var hostKey: String
        var libvirtURI: String
    }
    var hosts: [Host]

    static var state: String { ProcessInfo.processInfo.environment["TESTBED_STATE"] ?? "/var/tmp/cvm-testbed" }

    static func load() throws -> TestBedHosts {
        try JSONDecoder().decode(TestBedHosts.self, from: Data(contentsOf: URL(fileURLWithPath: state + "/hosts.json")))
    }
}

extension CLIHarness {
    /// Registers test-bed host `index` under `name`.
    @discardableResult
    func addTestBedHost(_ name: String, index: Int, extra: [String] = []) throws -> Output {
        let h = try TestBedHosts.load().hosts[index]
        return try run(["host", "add", name, "--address", h.address, "--identity", h.identity, "--host-key", h.hostKey] + extra)
    }

    /// Domains and volumes of `cvm` on every test-bed host (through the test bed's own SSH
    /// wrapper, not our code path).
    func remoteTraces(of cvm: String) throws -> [String] {
        var found: [String] = []
        for h in try TestBedHosts.load().hosts {
            let c = try LibvirtConnection(uri: h.libvirtURI)
            if try c.lookupDomain(name: "cvm-\(cvm)") != nil { found.append("domain on \(h.name)") }
            let root = TestBedHosts.state + "/h\(h.address.split(separator: ".").last!)/root/var/lib/cvm/volumes"
            for f in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where f.hasPrefix("\(cvm)-") {
                found.append("volume \(f) on \(h.name)")
            }
        }
        return found
    }
}
