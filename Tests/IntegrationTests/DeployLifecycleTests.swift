@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// Real CVMs on the real local libvirtd (QEMU, TCG), driven through the `cvmctl` binary.
@Suite(.serialized) struct DeployLifecycleTests {
    struct Deployed: Decodable { var name: String; var created: Bool; var bootToHeartbeatMs: Int; var virtType: String }

    @Test func deployHeartbeatsStatusAndDecommissionLeavesNoTrace() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deployed = try cli.json(Deployed.self, "deploy", "--image", "cvm-base", "--name", "life")
        #expect(deployed.created)
        #expect(deployed.bootToHeartbeatMs > 0)
        #expect(deployed.virtType == "qemu")

        let report = try cli.status()
        let cvm = try #require(report.cvms.first { $0.name == "life" })
        #expect(cvm.state == "running")
        #expect(cvm.domainState == "running")
        #expect((cvm.lastHeartbeatAgeSeconds ?? 99) < 3)
        #expect((cvm.memTotalKiB ?? 0) > 50_000) // reported by the agent from /proc/meminfo
        #expect(report.mismatches.isEmpty)

        // A retry of the same deploy is a no-op.
        let again = try cli.json(Deployed.self, "deploy", "--image", "cvm-base", "--name", "life")
        #expect(!again.created)

        let out = try cli.run("decommission", "life")
        #expect(out.status == 0)
        #expect(out.stdout.contains("agent stopped"))
        #expect(try cli.traces(of: "life") == [])
        // Repeating it is safe.
        let repeated = try cli.run("decommission", "life")
        #expect(repeated.status == 0)
        #expect(repeated.stdout.contains("already decommissioned"))
    }

    @Test func monitorMarksAKilledQEMUFailedWithinThreeIntervals() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        _ = try cli.json(Deployed.self, "deploy", "--image", "cvm-base", "--name", "victim")
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        #expect(try eventually(timeout: 10) { try cli.status().monitorAlive })
        #expect(try eventually(timeout: 5) { (try cli.status().cvms.first?.lastHeartbeatAgeSeconds ?? 9) < 1.5 })

        let pidText = try String(contentsOfFile: "/run/libvirt/qemu/cvm-victim.pid", encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let killedAt = Date()
        kill(pid, SIGKILL)
        let failed = try eventually(timeout: 3) { try cli.status().cvms.first?.state == "failed" }
        #expect(failed, "not failed 3 s (3 heartbeat intervals) after the kill")
        let detectedIn = Date().timeIntervalSince(killedAt)
        #expect(detectedIn < 3)
        let failure = try cli.status().cvms.first?.failure ?? ""
        #expect(!failure.isEmpty)

        #expect(try cli.run("decommission", "victim").status == 0)
        #expect(try cli.traces(of: "victim") == [])
    }

    @Test func interruptedDeployIsCleanedUpByTheNextDeploy() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        // Start a deploy and kill -9 it once its domain exists: a crash mid-operation.
        let deploy = cli.process(["deploy", "--image", "cvm-base", "--name", "crash", "-q"])
        deploy.standardError = FileHandle.nullDevice
        deploy.standardOutput = FileHandle.nullDevice
        try deploy.run()
        let connection = try LibvirtConnection(uri: "qemu:///system")
        let defined = try eventually(timeout: 30) { try connection.lookupDomain(name: "cvm-crash") != nil }
        #expect(defined)
        kill(deploy.processIdentifier, SIGKILL)
        deploy.waitUntilExit()

        // The store still says deploying, with an owner that is gone: status says it failed, and why.
        let report = try cli.status()
        #expect(report.cvms.first?.state == "failed")
        #expect(report.cvms.first?.failure?.contains("left deploying by cvmctl pid \(deploy.processIdentifier), which is gone") == true,
                "\(report.cvms.first?.failure ?? "")")

        // A retry recognises the dead operation, cleans it up and deploys afresh.
        let retried = try cli.run("deploy", "--image", "cvm-base", "--name", "crash")
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stderr.contains("cleaning up an interrupted operation"))
        #expect(try cli.status().cvms.first?.state == "running")
        #expect(try cli.run("decommission", "crash").status == 0)
        #expect(try cli.traces(of: "crash") == [])
    }

    @Test func ctrlCDuringDeployRollsBack() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let deploy = cli.process(["deploy", "--image", "cvm-base", "--name", "intr"])
        let err = Pipe()
        deploy.standardError = err
        deploy.standardOutput = FileHandle.nullDevice
        try deploy.run()
        let connection = try LibvirtConnection(uri: "qemu:///system")
        #expect(try eventually(timeout: 30) { try connection.lookupDomain(name: "cvm-intr")?.isActive == true })
        kill(deploy.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        deploy.waitUntilExit()
        #expect(deploy.terminationStatus == 130)
        #expect(stderr.contains("interrupted"))
        #expect(try cli.traces(of: "intr") == [])
    }
}
