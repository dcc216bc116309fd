import Foundation
@testable import Orchestrator
import Testing

/// Live migration against in-memory hypervisors: a failure or a cancellation at every step
/// leaves the CVM running exactly once, where it was, with the store agreeing.
@Suite struct MigrateRollbackTests {
    @Test func aMigrationMovesTheCVMAndLeavesNothingBehind() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        let result = try await site.orchestrator.migrate(MigrateRequest(name: "web", destination: "cloud", reportProgress: false))
        #expect(result.from == "local" && result.to == "cloud")
        #expect(result.pauseMs == 12)
        try site.expectRunsOnce("web", on: "cloud")
        // Both hosts got this orchestrator's migration credentials before the job.
        #expect(site.local.migrationCANow != nil && site.local.migrationCANow == site.cloud.migrationCANow)
        _ = try await site.orchestrator.migrate(MigrateRequest(name: "web", destination: "local", reportProgress: false))
        try site.expectRunsOnce("web", on: "local")
    }

    static let failingSteps: [(InMemoryHypervisor.Step, String)] = [
        (.installCredentials, "installing the migration TLS credentials"),
        (.stageArtifact, "uploading the kernel to the destination"),
        (.createVolume, "creating the destination disk"),
        (.setMaxDowntime, "setting the downtime limit"),
        (.migrate, "the migration job"),
    ]

    @Test(arguments: failingSteps.indices)
    func aMigrationFailingAtAStepLeavesTheCVMWhereItWas(_ index: Int) async throws {
        let (step, what) = Self.failingSteps[index]
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        // Destination-side steps fail on the destination, job steps on the source domain.
        (step == .stageArtifact || step == .createVolume || step == .installCredentials ? site.cloud : site.local).fail(step)
        do {
            _ = try await site.orchestrator.migrate(MigrateRequest(name: "web", destination: "cloud", reportProgress: false))
            Issue.record("migration succeeded despite a failure at \(what)")
        } catch let error as OrchestratorError {
            guard case .migrationFailed = error else { Issue.record("wrong error \(error) at \(what)"); return }
        }
        try site.expectRunsOnce("web", on: "local")
        #expect(try await site.store.events().last?.kind == "migrate.failed")
    }

    @Test func aCancelledMigrationIsAbortedAndTheCVMStays() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        site.local.blockMigrations()
        let migration = Task {
            try await site.orchestrator.migrate(MigrateRequest(name: "web", destination: "cloud", reportProgress: true))
        }
        // Cancel while the copy runs (the destination disk exists by then).
        while site.cloud.volumeNamesNow.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        migration.cancel()
        do {
            _ = try await migration.value
            Issue.record("a cancelled migration succeeded")
        } catch let error as OrchestratorError {
            guard case .interrupted = error else { Issue.record("wrong error \(error)"); return }
        }
        try site.expectRunsOnce("web", on: "local")
    }

    @Test func anUnreachableDestinationChangesNothing() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        site.hypervisors.unreachable.withLock { _ = $0.insert("cloud") }
        await #expect(throws: OrchestratorError.self) {
            try await site.orchestrator.migrate(MigrateRequest(name: "web", destination: "cloud", reportProgress: false))
        }
        try site.expectRunsOnce("web", on: "local")
        #expect(try await site.store.events().filter { $0.kind.hasPrefix("migrate.") }.isEmpty)
    }
}
