@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// A state directory on a full file system: the deploy fails with one line that says what to
/// free, leaves no partial file, no domain, no volume and no row, and the store stays usable.
@Suite(.serialized) struct FullDiskTests {
    @Test func deployOntoAFullStateDirectoryFailsCleanlyAndTheStoreStaysUsable() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        // A CVM deployed while there is room (its guest has its kernel in memory from now on).
        let first = try cli.run("deploy", "--image", "cvm-base", "--name", "roomy")
        #expect(first.status == 0, "\(first.stderr)")

        // The state directory moves onto an 8 MiB file system: the store comes along, the
        // image cache does not (the kernel alone is larger than the whole file system).
        let saved = NSTemporaryDirectory() + "cvm-full-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: saved) }
        let storeFiles = try FileManager.default.contentsOfDirectory(atPath: cli.state).filter { $0.hasPrefix("state.sqlite") }
        for file in storeFiles { try FileManager.default.copyItem(atPath: cli.state + "/" + file, toPath: saved + "/" + file) }
        #expect(try Self.shell("mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "cvm-full", cli.state) == 0)
        defer { _ = try? Self.shell("umount", "-l", cli.state) }
        for file in storeFiles { try FileManager.default.copyItem(atPath: saved + "/" + file, toPath: cli.state + "/" + file) }
        try FileManager.default.createDirectory(atPath: cli.state + "/local/volumes", withIntermediateDirectories: true)

        let full = try cli.run("deploy", "--image", "cvm-base", "--name", "cramped")
        #expect(full.status != 0)
        #expect(full.errorLines.count == 1, "\(full.stderr)")
        let line = full.errorLines.first ?? ""
        #expect(line.contains("no space left on device writing \(cli.state)/local/images/"), "\(line)")
        #expect(line.contains(" MiB "), "says how much to free: \(line)")
        #expect(!full.stderr.contains("rollback failed"), "\(full.stderr)")

        // Nothing of it is left: no partial copy, no domain, no volume, no row.
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: cli.state + "/local/images")) ?? []
        #expect(cached.filter { $0.contains(".part") }.isEmpty, "partial copies left: \(cached)")
        #expect(try cli.traces(of: "cramped") == [])
        let connection = try LibvirtConnection(uri: "qemu:///system")
        let orchestrator = try CVMOrchestrator(configuration: .init(stateDirectory: cli.state, imagesDirectory: cli.images))
        let volumes = try connection.lookupStoragePool(name: orchestrator.localPoolName ?? "")?.volumeNames() ?? []
        orchestrator.close()
        #expect(volumes.filter { $0.hasPrefix("cramped-") }.isEmpty, "volumes left: \(volumes)")

        // The store is still usable: status, the journal, and a decommission.
        #expect(try cli.run("status").status == 0)
        let events = try cli.run("events", "--last", "5")
        #expect(events.stdout.contains("cvm.removed") && events.stdout.contains("cramped"), "\(events.stdout)")
        let gone = try cli.run("decommission", "roomy", "--grace", "0")
        #expect(gone.status == 0, "\(gone.stderr)")
        #expect(try connection.lookupDomain(name: "cvm-roomy") == nil)
        #expect(try Store(directory: cli.state).cvm(named: "roomy") == nil)
    }

    @discardableResult
    static func shell(_ arguments: String...) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
