import Foundation
import Libvirt
@testable import Orchestrator
import Testing

/// A deploy that meets a CVM of the same name: what it does and what it says.
@Suite struct DeployConflictTests {
    /// Marks a deployed CVM failed the way the monitor does (its guest gone, the row failed).
    private func fail(_ name: String, in site: FakeSite) async throws -> CVMRecord {
        let record = try #require(try await site.store.cvm(named: name))
        site.local.state.withLock { $0.domains[record.domainName]?.running = false }
        return try #require(try await site.store.update(cvmID: record.id) { $0.state = .failed })
    }

    @Test("a failed CVM redeployed with the same definition is torn down and deployed anew")
    func failedSameDefinitionIsReplaced() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        let failed = try await fail("web", in: site)

        let result = try await site.deploy("web")
        #expect(result.created)
        #expect(result.cvm.id != failed.id)
        try site.expectRunsOnce("web", on: "local")
        let removed = try await site.store.events().filter { $0.cvm == "web" && $0.kind == "cvm.removed" }
        #expect(removed.count == 1 && removed[0].message.contains("failed"), "\(removed)")
    }

    @Test("a failed CVM with another definition keeps its name: the error says so and nothing changes")
    func failedOtherDefinitionIsRefused() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        let failed = try await fail("web", in: site)
        await #expect(throws: OrchestratorError.nameTaken("web")) { try await site.deploy("web", host: "cloud") }
        #expect(try await site.store.cvm(named: "web") == failed)
        #expect(site.local.domainNames == ["cvm-web"])
        #expect(site.cloud.domainNames.isEmpty && site.cloud.volumeNamesNow.isEmpty)
    }

    @Test("of two identical deploys at once, the loser is told another one is deploying it", arguments: 0..<8)
    func concurrentIdenticalDeploys(_ round: Int) async throws {
        let site = try FakeSite.make(deployTimeout: .milliseconds(400))
        defer { site.remove() }
        site.local.setAgent(.silent) // the winner stays in progress until its timeout
        let name = "web-\(round)"
        func attempt() async -> Result<DeployResult, any Error> {
            do { return .success(try await site.deploy(name)) } catch { return .failure(error) }
        }
        async let first = attempt()
        async let second = attempt()
        let errors = [await first, await second].compactMap { result -> OrchestratorError? in
            if case .failure(let error) = result { return error as? OrchestratorError }
            return nil
        }
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.filter { $0 == .deployInProgress(name: name, pid: getpid()) }.count == 1, "\(errors)")
        #expect(errors.contains { if case .deployTimeout = $0 { true } else { false } }, "\(errors)")
        let message = try #require(errors.first { if case .deployInProgress = $0 { true } else { false } }).description
        #expect(message.contains("is being deployed") && message.contains("pid \(getpid())"), "\(message)")
        #expect(!message.contains("different definition"))
        try site.expectGone(name)
    }

    @Test("a decommission while this process still deploys the CVM is told so and removes nothing")
    func decommissionDuringAnInProcessDeploy() async throws {
        let site = try FakeSite.make(deployTimeout: .milliseconds(600))
        defer { site.remove() }
        site.local.setAgent(.silent)
        let deploy = Task { try await site.deploy("web") }
        while site.local.runningDomainNames.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: OrchestratorError.deployInProgress(name: "web", pid: getpid())) {
            try await site.orchestrator.decommission(name: "web", grace: .zero)
        }
        #expect(site.local.runningDomainNames == ["cvm-web"], "the deploy's guest is left to the deploy")
        await #expect(throws: OrchestratorError.self) { try await deploy.value }
        try site.expectGone("web")
    }

    @Test("a domain of that name that no CVM of the store owns is left alone, and the name given back")
    func foreignDomainIsLeftAlone() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        var foreign = StoreTests.record("web")
        foreign.image = "tiny"
        _ = try await site.local.defineDomain(DomainDefinition.cvm(foreign, owner: "another-store", kernel: "/k", initrd: "/i",
                                                                   disk: "/d", cmdline: ""))
        await #expect(throws: OrchestratorError.domainExists(name: "web", domain: "cvm-web", host: "local")) {
            try await site.deploy("web")
        }
        #expect(site.local.domainNames == ["cvm-web"], "the foreign domain stays")
        #expect(try await site.store.cvm(named: "web") == nil, "no row left")
        let message = OrchestratorError.domainExists(name: "web", domain: "cvm-web", host: "local").description
        #expect(message.contains("'cvm-web'") && message.contains("no CVM of this store owns"), "\(message)")
    }
}
