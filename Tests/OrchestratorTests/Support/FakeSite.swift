import CVMProtocol
import Foundation
import Logging
@testable import Orchestrator
import Testing

/// An orchestrator over in-memory hypervisors: a real store (SQLite file) and a real image
/// catalog (a tiny image built by its recipe), hosts `local` and `cloud`, no daemon.
struct FakeSite {
    let orchestrator: CVMOrchestrator
    let hypervisors: InMemoryHypervisors
    let root: String

    var local: InMemoryHypervisor { hypervisors["local"] }
    var cloud: InMemoryHypervisor { hypervisors["cloud"] }
    var store: Store { orchestrator.store }

    static func make(deployTimeout: Duration = .milliseconds(300), cvmSubnet: String = "10.77.0.0/24") throws -> FakeSite {
        let (catalog, root) = try ImageCatalogTests.makeCatalog()
        _ = try catalog.build("tiny", logger: Logger(label: "test"))
        let hypervisors = InMemoryHypervisors()
        var configuration = OrchestratorConfiguration(stateDirectory: root + "/state", imagesDirectory: root + "/images",
                                                      localURI: "fake:///local", virtType: .qemu,
                                                      deployTimeout: deployTimeout,
                                                      localMigrationAddress: "127.0.0.1")
        configuration.cvmSubnet = try IPv4Subnet.parse(cvmSubnet).get()
        let orchestrator = try CVMOrchestrator(configuration: configuration, hypervisors: hypervisors)
        // A second host; its address is only written into the migration URI the fake ignores.
        try orchestrator.store.save(HostRecord(
            name: "cloud", uri: "fake:///cloud", address: "127.0.0.2", user: "root", identity: "/dev/null", hostKey: nil,
            zone: "cloud", latitude: 0, longitude: 0, trust: .private, cpus: 0, memoryMiB: 0, costPerHour: 0,
            latencyMs: 1, dataDir: root + "/cloud", hypervisors: ["qemu", "kvm"], addedAt: Date()))
        return FakeSite(orchestrator: orchestrator, hypervisors: hypervisors, root: root)
    }

    func remove() {
        orchestrator.close()
        try? FileManager.default.removeItem(atPath: root)
    }

    func deploy(_ name: String, host: String = "local", role: AgentConfig.Role = .single) async throws -> DeployResult {
        try await orchestrator.deploy(DeployRequest(image: "tiny", name: name, host: host, role: role))
    }

    /// Nothing of the CVM is left: no domain and no volume on any host, no row.
    func expectGone(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for host in [local, cloud] {
            #expect(host.domainNames.isEmpty, "domains left on \(host.hostName): \(host.domainNames)", sourceLocation: sourceLocation)
            #expect(host.volumeNamesNow.isEmpty, "volumes left on \(host.hostName): \(host.volumeNamesNow)", sourceLocation: sourceLocation)
        }
        #expect(try store.cvm(named: name) == nil, "row left for \(name)", sourceLocation: sourceLocation)
    }

    /// The CVM runs exactly once, on `host`, and the store agrees.
    func expectRunsOnce(_ name: String, on host: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let domain = "cvm-\(name)"
        let elsewhere = host == "local" ? cloud : local
        #expect(hypervisors[host].runningDomainNames == [domain], sourceLocation: sourceLocation)
        #expect(elsewhere.domainNames.isEmpty, "domain left on \(elsewhere.hostName)", sourceLocation: sourceLocation)
        #expect(elsewhere.volumeNamesNow.isEmpty, "volumes left on \(elsewhere.hostName): \(elsewhere.volumeNamesNow)", sourceLocation: sourceLocation)
        #expect(hypervisors[host].volumeNamesNow.count == 1, sourceLocation: sourceLocation)
        let record = try #require(try store.cvm(named: name), sourceLocation: sourceLocation)
        #expect(record.host == host, sourceLocation: sourceLocation)
        #expect(record.state == .running, sourceLocation: sourceLocation)
        #expect(record.ownerPid == nil, sourceLocation: sourceLocation)
    }
}
