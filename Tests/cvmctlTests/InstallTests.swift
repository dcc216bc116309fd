import Foundation
import Testing
@testable import cvmctl

@Suite struct InstallTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Run {
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: executable)
        tool.arguments = arguments
        let out = Pipe(), errors = Pipe()
        tool.standardOutput = out
        tool.standardError = errors
        try tool.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        tool.waitUntilExit()
        return Run(status: tool.terminationStatus, stdout: stdout, stderr: stderr)
    }

    static func files(under root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { path in
            var directory: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &directory) && !directory.boolValue
        }.sorted()
    }

    @Test("install --root: the binary runs, the units pass systemd-analyze, the man pages pass groff, the completion parses; a second install keeps the settings file")
    func installsEverything() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let binary = CommandTreeTests.binary.path
        let first = try Self.run(binary, ["install", "--root", root])
        #expect(first.status == 0, "\(first.stderr)")
        let files = Self.files(under: root)
        for expected in ["usr/local/bin/cvmctl", "etc/systemd/system/cvmctl-serve.service", "etc/systemd/system/cvmctl-tms.service",
                         "usr/local/share/bash-completion/completions/cvmctl", "usr/local/share/zsh/site-functions/_cvmctl",
                         "usr/local/share/fish/vendor_completions.d/cvmctl.fish", "usr/local/share/man/man1/cvmctl.1",
                         "usr/local/share/man/man1/cvmctl-serve.1", "usr/local/share/man/man1/cvmctl-tms-run.1", "etc/cvmctl/config.yaml"] {
            #expect(files.contains(expected), "\(expected) in \(files)")
        }
        #expect(!files.contains { $0.hasSuffix(".cvmctl-new") })
        #expect(first.stdout.split(separator: "\n").count == files.count, "one line per file written")

        // The installed binary is this one, executable.
        let installed = root + "/usr/local/bin/cvmctl"
        #expect(try Self.run(installed, ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == CVMCtl.version)

        // The units, pointed at the installed binary, as systemd reads them: no complaint.
        let units = root + "/verify"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        for unit in ["cvmctl-serve.service", "cvmctl-tms.service"] {
            let text = try String(contentsOfFile: root + "/etc/systemd/system/" + unit, encoding: .utf8)
            #expect(text.contains("Type=notify") && text.contains("WatchdogSec=30s") && text.contains("ExecStart=/usr/local/bin/cvmctl "))
            try text.replacingOccurrences(of: "/usr/local/bin/cvmctl", with: installed).write(toFile: units + "/" + unit, atomically: true, encoding: .utf8)
        }
        let verified = try Self.run("/usr/bin/env", ["systemd-analyze", "verify", "--man=no", units + "/cvmctl-serve.service", units + "/cvmctl-tms.service"])
        #expect(verified.status == 0 && verified.stdout.isEmpty && verified.stderr.isEmpty,
                "systemd-analyze (scripts/test.sh installs it): \(verified.stdout) \(verified.stderr)")

        // Man pages: groff finds nothing to warn about; each names its command.
        let pages = files.filter { $0.hasPrefix("usr/local/share/man/man1/") }.map { root + "/" + $0 }
        #expect(pages.count >= 40)
        let groff = try Self.run("/usr/bin/env", ["groff", "-man", "-Tutf8", "-ww", "-z"] + pages)
        #expect(groff.status == 0 && groff.stderr.isEmpty, "groff (scripts/test.sh installs it): \(groff.stderr.prefix(2000))")
        let deploy = try String(contentsOfFile: root + "/usr/local/share/man/man1/cvmctl-deploy.1", encoding: .utf8)
        #expect(deploy.hasPrefix(".TH CVMCTL\\-DEPLOY 1") && deploy.contains("\\fB\\-\\-image\\fR"))

        // The bash completion parses.
        let bash = try Self.run("/bin/bash", ["-n", root + "/usr/local/share/bash-completion/completions/cvmctl"])
        #expect(bash.status == 0, "\(bash.stderr)")

        // Again: everything replaced, but the settings file an operator edited is kept.
        let settings = root + "/etc/cvmctl/config.yaml"
        #expect(try String(contentsOfFile: settings, encoding: .utf8).split(separator: "\n").allSatisfy { $0.hasPrefix("#") })
        try "logFormat: json\n".write(toFile: settings, atomically: true, encoding: .utf8)
        let second = try Self.run(binary, ["install", "--root", root])
        #expect(second.status == 0)
        #expect(try String(contentsOfFile: settings, encoding: .utf8) == "logFormat: json\n")
        #expect(!second.stdout.contains("config.yaml"))
    }

    @Test("bad input: a relative prefix, an unwritable place: one line, exit 1, nothing written")
    func badInput() throws {
        let binary = CommandTreeTests.binary.path
        let relative = try Self.run(binary, ["install", "--prefix", "usr/local", "--root", "/tmp"])
        #expect(relative.status == 1 && relative.stderr.split(separator: "\n").count == 1 && relative.stderr.contains("--prefix must be an absolute path"))

        // A file where a directory must go: the first files were staged, then removed again.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("install-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/usr/local/share", withIntermediateDirectories: true)
        try "not a directory".write(toFile: root + "/usr/local/share/man", atomically: true, encoding: .utf8)
        let blocked = try Self.run(binary, ["install", "--root", root])
        #expect(blocked.status == 1 && blocked.stderr.split(separator: "\n").count == 1, "\(blocked.stderr)")
        #expect(blocked.stderr.contains("cannot create \(root)/usr/local/share/man/man1"), "\(blocked.stderr)")
        #expect(Self.files(under: root) == ["usr/local/share/man"], "nothing else left: \(Self.files(under: root))")
        #expect(blocked.stdout.isEmpty)
    }
}
