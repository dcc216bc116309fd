import Foundation
import Orchestrator
import Testing

/// Each bad input: exactly one clear error line, a non-zero exit, nothing left behind.
@Suite(.serialized) struct BadInputTests {
    func expectCleanFailure(_ out: CLIHarness.Output, mentioning text: String, cli: CLIHarness, name: String,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(out.status == 1, "exit status", sourceLocation: sourceLocation)
        #expect(out.errorLines.count == 1, "stderr: \(out.stderr)", sourceLocation: sourceLocation)
        #expect(out.errorLines.first?.contains(text) == true, "stderr: \(out.stderr)", sourceLocation: sourceLocation)
        #expect(try cli.traces(of: name) == [], sourceLocation: sourceLocation)
    }

    @Test func unknownImage() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let out = try cli.run("deploy", "--image", "no-such-image", "--name", "x1")
        try expectCleanFailure(out, mentioning: "unknown image 'no-such-image'", cli: cli, name: "x1")
    }

    @Test func settingsFileWithUnknownKey() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        let path = cli.state + "/config.yaml"
        try "virtType: qemu\nimage: cvm-base\n".write(toFile: path, atomically: true, encoding: .utf8)
        cli.environment["CVM_SETTINGS"] = path
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "x1")
        try expectCleanFailure(out, mentioning: "\(path):2:1: image: unknown key", cli: cli, name: "x1")
    }

    @Test func consoleOfAnUnknownCVM() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        try expectCleanFailure(try cli.run("console", "ghost"), mentioning: "no CVM named 'ghost'", cli: cli, name: "ghost")
        try expectCleanFailure(try cli.run("console", "ghost", "--bytes", "0"), mentioning: "--bytes must be between 1 and 1048576", cli: cli, name: "ghost")
    }

    @Test func corruptedArtifact() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.images = try cli.copyCatalog()
        let path = cli.images + "/cvm-base/build/initrd.img"
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 1000)
        let byte = try handle.read(upToCount: 1)![0]
        try handle.seek(toOffset: 1000)
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "x2")
        try expectCleanFailure(out, mentioning: "sha256", cli: cli, name: "x2")
        #expect(try cli.run("image", "verify", "cvm-base").status == 1)
    }

    @Test func libvirtNotReachable() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "x3", "--connect", "qemu:///system?socket=/nonexistent/sock")
        try expectCleanFailure(out, mentioning: "cannot reach libvirt", cli: cli, name: "x3")
    }

    @Test func nameTaken() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.images = try cli.copyCatalog()
        // A second image in the same catalog.
        let fm = FileManager.default
        try fm.copyItem(atPath: cli.images + "/cvm-base", toPath: cli.images + "/cvm-alt")
        let manifest = try String(contentsOfFile: cli.images + "/cvm-alt/manifest.yaml", encoding: .utf8)
        try manifest.replacingOccurrences(of: "name: cvm-base", with: "name: cvm-alt")
            .write(toFile: cli.images + "/cvm-alt/manifest.yaml", atomically: true, encoding: .utf8)
        #expect(try cli.run("deploy", "--image", "cvm-base", "--name", "taken").status == 0)
        let out = try cli.run("deploy", "--image", "cvm-alt", "--name", "taken")
        #expect(out.status == 1)
        #expect(out.errorLines.count == 1)
        #expect(out.errorLines.first?.contains("already exists") == true)
        // The original is untouched.
        let cvm = try cli.status().cvms.first { $0.name == "taken" }
        #expect(cvm?.state == "running")
        #expect(cvm?.image == "cvm-base")
    }

    @Test func malformedManifest() throws {
        var cli = try CLIHarness()
        defer { cli.cleanUp() }
        cli.images = try cli.copyCatalog()
        let file = cli.images + "/cvm-base/manifest.yaml"
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "  memoryMiB: 128", with: "  memoryMiB: lots")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "x5")
        try expectCleanFailure(out, mentioning: "manifest.yaml:", cli: cli, name: "x5")
        #expect(out.errorLines.first?.contains("defaults.memoryMiB") == true)
    }

    @Test func deployTimeoutRollsBack() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "x6", "--timeout", "1")
        try expectCleanFailure(out, mentioning: "no valid heartbeat within 1 s; deploy rolled back", cli: cli, name: "x6")
    }

    @Test func invalidNameAndFlags() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        let out = try cli.run("deploy", "--image", "cvm-base", "--name", "Bad_Name")
        try expectCleanFailure(out, mentioning: "invalid CVM name", cli: cli, name: "Bad_Name")
        let flags = try cli.run("deploy", "--image", "cvm-base", "--timeout", "0")
        #expect(flags.status != 0)
        #expect(flags.stderr.contains("--timeout must be positive"))
        let unknown = try cli.run("decommission", "ghost")
        #expect(unknown.status == 1)
        #expect(unknown.errorLines.first?.contains("no CVM named 'ghost'") == true)
    }
}
