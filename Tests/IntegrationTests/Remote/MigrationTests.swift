@testable import Libvirt
import Foundation
import Orchestrator
import Testing

/// Remote deploys and live migrations local <-> cloud <-> cloud on real libvirtds, with the
/// heartbeat monitor watching throughout.
@Suite(.serialized) struct MigrationTests {
    struct Migrated: Decodable { var from: String; var to: String; var pauseMs: UInt64?; var totalMs: Int }

    static func harness() throws -> CLIHarness {
        var cli = try CLIHarness()
        cli.environment["CVM_MIGRATION_ADDRESS"] = "10.200.0.1"
        #expect(try cli.addTestBedHost("c2", index: 0).status == 0)
        #expect(try cli.addTestBedHost("c3", index: 1).status == 0)
        return cli
    }

    func expectHealthy(_ cli: CLIHarness, _ name: String, on host: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fresh = try eventually(timeout: 8) {
            guard let c = try cli.status().cvms.first(where: { $0.name == name }) else { return false }
            return c.host == host && c.state == "running" && c.domainState == "running" && (c.lastHeartbeatAgeSeconds ?? 99) < 2.5
        }
        let seen = (try? cli.status().cvms.map { "\($0.name)@\($0.host) \($0.state)/\($0.domainState) hb \($0.lastHeartbeatAgeSeconds ?? -1)" }) ?? []
        // When it is not: what the journal and the CVM's console say about it.
        let journal = fresh ? "" : ((try? cli.run("logs", "--cvm", name, "--last", "15").stdout) ?? "")
        let console = fresh ? "" : ((try? cli.run("console", name, "--bytes", "1500").stdout) ?? "")
        #expect(fresh, "\(name) not running and heartbeating on \(host): \(seen)\njournal:\n\(journal)\nconsole:\n\(console)",
                sourceLocation: sourceLocation)
    }

    @Test func deployOnCloudThenMigrateEveryWay() throws {
        let cli = try Self.harness()
        defer { cli.cleanUp() }
        let deployed = try cli.run("deploy", "--image", "cvm-base", "--name", "mover", "--host", "c2")
        #expect(deployed.status == 0, "\(deployed.stderr)")
        let id = try cli.status().cvms.first?.id
        let monitor = cli.process(["monitor", "-q"])
        try monitor.run()
        defer { monitor.terminate(); monitor.waitUntilExit() }
        try expectHealthy(cli, "mover", on: "c2")
        // Its console, read on the cloud host over SSH.
        let console = try cli.run("console", "mover")
        #expect(console.status == 0 && console.stdout.contains("cvm-agent: mover: task"), "\(console.stdout) \(console.stderr)")

        for (to, from) in [("c3", "c2"), ("local", "c3"), ("c2", "local")] {
            let out = try cli.json(Migrated.self, "migrate", "mover", "--to", to)
            #expect(out.from == from && out.to == to)
            #expect(out.pauseMs != nil)
            try expectHealthy(cli, "mover", on: to)
            // The console log goes on where the CVM runs now.
            #expect(try cli.run("console", "mover", "--bytes", "100").status == 0)
            let c = try #require(try cli.status().cvms.first)
            #expect(c.id == id) // same identity
            #expect(c.lastMigrationPauseMs != nil && c.lastMigrationTotalMs != nil)
            // The old host keeps no trace.
            if from == "local" {
                #expect(try cli.traces(of: "mover").filter { !$0.hasPrefix("store") } == [])
            } else {
                #expect(try cli.remoteTraces(of: "mover").allSatisfy { !$0.contains(from == "c2" ? "cvmh2" : "cvmh3") })
            }
        }
        let gone = try cli.run("decommission", "mover")
        #expect(gone.status == 0, "\(gone.stderr)")
        #expect(try cli.remoteTraces(of: "mover") == [])
        #expect(try cli.traces(of: "mover") == [])
    }

    @Test func refusedDestinationsLeaveTheCVMWhereItWas() throws {
        let cli = try Self.harness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "stay", "--host", "c2").status == 0)
        #expect(try cli.addTestBedHost("small", index: 1, extra: ["--memory-mib", "64"]).status == 0)
        #expect(try cli.addTestBedHost("kvmonly", index: 1, extra: ["--hypervisors", "kvm"]).status == 0)
        for (to, text) in [("small", "cannot take it"), ("kvmonly", "does not offer hypervisor kind 'qemu'"),
                           ("nowhere", "unknown host 'nowhere'"), ("c2", "already runs on 'c2'")] {
            let out = try cli.run("migrate", "stay", "--to", to)
            #expect(out.status == 1, "\(to)")
            #expect(out.errorLines.count == 1)
            #expect(out.errorLines.first?.contains(text) == true, "\(out.stderr)")
        }
        let c = try #require(try cli.status().cvms.first)
        #expect(c.host == "c2" && c.state == "running" && c.domainState == "running")
        #expect(try cli.remoteTraces(of: "stay").filter { $0.contains("cvmh3") } == [])
    }

    @Test func ctrlCAbortsAMigrationMidway() throws {
        let cli = try Self.harness()
        defer { cli.cleanUp() }
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "halt", "--host", "c2").status == 0)
        // 1 MiB/s makes the copy last long enough to interrupt it.
        let migrate = cli.process(["migrate", "halt", "--to", "c3", "--bandwidth", "1"])
        let err = Pipe()
        migrate.standardError = err
        migrate.standardOutput = FileHandle.nullDevice
        try migrate.run()
        let c3 = try LibvirtConnection(uri: try TestBedHosts.load().hosts[1].libvirtURI)
        #expect(try eventually(timeout: 30) { try c3.lookupDomain(name: "cvm-halt") != nil }) // migration under way
        kill(migrate.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        migrate.waitUntilExit()
        #expect(migrate.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("aborted; it still runs on 'c2'"))
        let c = try #require(try cli.status().cvms.first)
        #expect(c.host == "c2" && c.state == "running" && c.domainState == "running")
        #expect(try cli.remoteTraces(of: "halt").filter { $0.contains("cvmh3") } == [])
        // And it still answers: a decommission stops its agent gracefully.
        let out = try cli.run("decommission", "halt")
        #expect(out.stdout.contains("agent stopped"), "\(out.stdout) \(out.stderr)")
    }
}
