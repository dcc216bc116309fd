import Foundation
@testable import Orchestrator
import Testing

/// Deploy and decommission against in-memory hypervisors: a failure at every step leaves no
/// domain, no volume and no row.
@Suite struct DeployRollbackTests {
    @Test func deployRunsAndDecommissionRemovesEverything() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        let result = try await site.deploy("web")
        #expect(result.created)
        try site.expectRunsOnce("web", on: "local")
        let again = try await site.deploy("web")
        #expect(!again.created, "an identical deploy is idempotent")

        let gone = try await site.orchestrator.decommission(name: "web")
        #expect(gone.outcome == .stoppedGracefully)
        try site.expectGone("web")
        #expect(try await site.orchestrator.decommission(name: "web").outcome == .alreadyGone)
    }

    /// Each step of a deploy that can fail, by the call that fails (the kernel is the first
    /// artifact staged, the initrd the second).
    static let failingSteps: [(InMemoryHypervisor.Step, Int, String)] = [
        (.stageArtifact, 0, "staging the kernel"),
        (.stageArtifact, 1, "staging the initrd"),
        (.createVolume, 0, "creating the disk"),
        (.defineDomain, 0, "defining the domain"),
        (.startDomain, 0, "starting the domain"),
        (.openChannel, 0, "opening the agent channel"),
    ]

    @Test(arguments: failingSteps.indices)
    func deployFailingAtAStepLeavesNothing(_ index: Int) async throws {
        let (step, after, what) = Self.failingSteps[index]
        let site = try FakeSite.make()
        defer { site.remove() }
        site.local.fail(step, after: after)
        await #expect(throws: InjectedFailure(step: step), "deploy failing at \(what)") {
            try await site.deploy("web")
        }
        try site.expectGone("web")
        let events = try await site.store.events().filter { $0.cvm == "web" }.map(\.kind)
        #expect(events == ["deploy.start", "cvm.removed"])
    }

    @Test func anAgentThatNeverHeartbeatsIsRolledBackAtTheTimeout() async throws {
        let site = try FakeSite.make(deployTimeout: .milliseconds(200))
        defer { site.remove() }
        site.local.setAgent(.silent)
        await #expect(throws: OrchestratorError.self) { try await site.deploy("web") }
        try site.expectGone("web")
    }

    @Test func anAgentChannelThatEndsIsRolledBack() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        site.local.setAgent(.crashes)
        do {
            _ = try await site.deploy("web")
            Issue.record("deploy succeeded without a heartbeat")
        } catch let error as OrchestratorError {
            guard case .agentRejected = error else { Issue.record("wrong error \(error)"); return }
        }
        try site.expectGone("web")
    }

    @Test func aCancelledDeployIsRolledBack() async throws {
        let site = try FakeSite.make(deployTimeout: .seconds(30))
        defer { site.remove() }
        site.local.setAgent(.silent)
        let deploy = Task { try await site.deploy("web") }
        // Wait until the guest is started, then interrupt (Ctrl-C).
        while site.local.runningDomainNames.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        deploy.cancel()
        await #expect(throws: CancellationError.self) { try await deploy.value }
        try site.expectGone("web")
    }

    @Test func aRollbackThatFailsLeavesARowTheNextDeployCleansUp() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        site.local.fail(.openChannel)
        site.local.fail(.destroy)
        await #expect(throws: InjectedFailure(step: .openChannel)) { try await site.deploy("web") }
        // The intent row stays (state deploying, owned by this process) so nothing is lost.
        #expect(try await site.store.cvm(named: "web")?.state == .deploying)
        // A retry recognises the interrupted deploy, tears it down and deploys anew.
        try await site.store.update(cvmID: #require(try await site.store.cvm(named: "web")).id) { $0.ownerPid = nil }
        let result = try await site.deploy("web")
        #expect(result.created)
        try site.expectRunsOnce("web", on: "local")
    }

    @Test func anUnreachableHostCreatesNothing() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        site.hypervisors.unreachable.withLock { _ = $0.insert("cloud") }
        await #expect(throws: OrchestratorError.self) { try await site.deploy("web", host: "cloud") }
        try site.expectGone("web")
        #expect(try await site.store.events().filter { $0.cvm == "web" }.isEmpty)
    }

    @Test func decommissionDestroysAGuestThatIgnoresStop() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        _ = try await site.deploy("web")
        site.local.fail(.openChannel)
        let result = try await site.orchestrator.decommission(name: "web", grace: .milliseconds(100))
        #expect(result.outcome == .destroyed)
        try site.expectGone("web")
    }

    /// A `deploying` row whose owner died and whose pid was reused by another process (here
    /// pid 1, which always runs) is an interrupted deploy, not one in progress.
    @Test func aReusedPidDoesNotBlockTheName() async throws {
        let site = try FakeSite.make()
        defer { site.remove() }
        let firstStart = try #require(ProcessLiveness.startTime(of: 1))
        var stale = StoreTests.record("web")
        stale.ownerPid = 1
        stale.ownerStart = firstStart + 1 // the owner started at another time: a different process
        try await site.store.insert(stale)
        let result = try await site.deploy("web")
        #expect(result.created)
        try site.expectRunsOnce("web", on: "local")

        // The same pid with the start time recorded is that very process: still in progress.
        var live = StoreTests.record("db")
        live.ownerPid = 1
        live.ownerStart = firstStart
        try await site.store.insert(live)
        await #expect(throws: OrchestratorError.deployInProgress(name: "db", pid: 1)) { try await site.deploy("db") }
        await #expect(throws: OrchestratorError.deployInProgress(name: "db", pid: 1)) {
            try await site.orchestrator.decommission(name: "db")
        }
    }

    @Test func theStartTimeOfAProcessIsReadFromProc() throws {
        let mine = try #require(ProcessLiveness.startTime(of: getpid()))
        #expect(ProcessLiveness.currentStart == mine)
        #expect(ProcessLiveness.isAlive(getpid(), start: mine))
        #expect(!ProcessLiveness.isAlive(getpid(), start: mine + 1))
        #expect(ProcessLiveness.startTime(of: 0) == nil)
    }
}
