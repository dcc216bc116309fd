@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// `cvmctl status` compares the store with what libvirt really runs and reports
/// disagreements instead of hiding them.
@Suite(.serialized) struct ReconcileTests {
    @Test func domainsRemovedOrStoppedBehindOurBackAreReported() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "gone").status == 0)
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "halted").status == 0)
        let connection = try LibvirtConnection(uri: "qemu:///system")
        let gone = try #require(try connection.lookupDomain(name: "cvm-gone"))
        try gone.destroy()
        try gone.undefine()
        try #require(try connection.lookupDomain(name: "cvm-halted")).destroy()

        let report = try cli.status()
        let problems = report.mismatches.map { "\($0.cvm ?? "-"): \($0.problem)" }
        #expect(problems.contains("gone: no such domain in libvirt"))
        #expect(problems.contains("halted: store says running, libvirt says shutoff"))
        #expect(report.cvms.first { $0.name == "gone" }?.state == "failed")
        #expect(report.cvms.first { $0.name == "halted" }?.domainState == "shutoff")
        let text = try cli.run("status")
        #expect(text.stdout.contains("MISMATCHES"))
        #expect(text.status == 3, "a mismatch exits 3 (over a failed CVM's 2): \(text.stderr)")
        #expect(try cli.run("status", "--json").status == 3)
        // Decommission still cleans both up completely.
        #expect(try cli.run("decommission", "gone").status == 0)
        #expect(try cli.run("decommission", "halted").status == 0)
        #expect(try cli.traces(of: "gone") == [] && cli.traces(of: "halted") == [])
    }

    @Test func orphanDomainOfThisStoreIsReported() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "orphan").status == 0)
        // The store loses the record (as if restored from an old backup): the domain remains.
        let store = try Store(directory: cli.state)
        let record = try #require(try store.cvm(named: "orphan"))
        try store.deleteCVM(id: record.id)
        let report = try cli.status()
        #expect(report.mismatches.contains { $0.domain == "cvm-orphan" && $0.problem.contains("orphan") })
        let connection = try LibvirtConnection(uri: "qemu:///system")
        if let d = try connection.lookupDomain(name: "cvm-orphan") { try d.destroy(); try d.undefine() }
    }
}
