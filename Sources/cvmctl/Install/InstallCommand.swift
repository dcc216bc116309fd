import ArgumentParser
import Foundation

/// `cvmctl install`: this binary, the systemd units, shell completions, man pages and a
/// commented settings file, in their places.
struct InstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install cvmctl: the binary, systemd units, completions, man pages and a settings file.",
        discussion: """
            Writes PREFIX/bin/cvmctl (this binary), UNIT-DIR/cvmctl-serve.service and \
            cvmctl-tms.service (Type=notify, WatchdogSec), bash, zsh and fish completions under \
            PREFIX/share, a man page per command under PREFIX/share/man/man1, and \
            /etc/cvmctl/config.yaml with every key commented out when there is none (an existing \
            one is kept). Every file is written beside its place first and renamed into it once \
            all were written, so a failure leaves the previous installation as it was. --root \
            stages the whole tree under a directory (packaging, tests). Then: systemctl \
            daemon-reload && systemctl enable --now cvmctl-serve.
            """)

    @Option(help: ArgumentHelp("Installation prefix (absolute).", valueName: "dir"))
    var prefix = "/usr/local"

    @Option(help: ArgumentHelp("Directory for the systemd units (absolute).", valueName: "dir"))
    var unitDir = "/etc/systemd/system"

    @Option(help: ArgumentHelp("Write everything under this directory instead of / (absolute).", valueName: "dir"))
    var root = "/"

    @Flag(help: "Print what would be written, write nothing.")
    var dryRun = false

    struct Item {
        var path: String
        var contents: Data
        var mode: mode_t
    }

    func validate() throws {
        for (flag, value) in [("--prefix", prefix), ("--unit-dir", unitDir), ("--root", root)] where !value.hasPrefix("/") {
            throw ValidationError("\(flag) must be an absolute path, not '\(value)'")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let items = try plan()
            if dryRun {
                for item in items { print("would write \(item.path) (\(item.contents.count) bytes, mode \(String(item.mode, radix: 8)))") }
                return
            }
            try Self.write(items)
            for item in items { print("installed \(item.path)") }
            if root == "/" { print("next: systemctl daemon-reload && systemctl enable --now cvmctl-serve") }
        }
    }

    /// What to write, where (under `root`).
    func plan() throws -> [Item] {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let installed = prefix + "/bin/cvmctl"
        func under(_ path: String) -> String { root == "/" ? path : root + path }
        var items = [Item(path: under(installed), contents: try Data(contentsOf: URL(fileURLWithPath: binary)), mode: 0o755)]
        items.append(Item(path: under(unitDir + "/cvmctl-serve.service"), contents: Data(SystemdUnits.serve(binary: installed).utf8), mode: 0o644))
        items.append(Item(path: under(unitDir + "/cvmctl-tms.service"), contents: Data(SystemdUnits.trafficManager(binary: installed).utf8), mode: 0o644))
        for (shell, path) in [(CompletionShell.bash, "/share/bash-completion/completions/cvmctl"),
                              (.zsh, "/share/zsh/site-functions/_cvmctl"), (.fish, "/share/fish/vendor_completions.d/cvmctl.fish")] {
            items.append(Item(path: under(prefix + path), contents: Data(CVMCtl.completionScript(for: shell).utf8), mode: 0o644))
        }
        let date = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withFullDate])
        for page in try ManPages.pages(dump: try Self.dumpHelp(binary: binary), version: CVMCtl.version, date: date) {
            items.append(Item(path: under(prefix + "/share/man/man1/\(page.name).1"), contents: Data(page.text.utf8), mode: 0o644))
        }
        let settings = under(SettingsFile.defaultPath)
        if !FileManager.default.fileExists(atPath: settings) {
            items.append(Item(path: settings, contents: Data(SystemdUnits.settingsSample.utf8), mode: 0o644))
        }
        return items
    }

    /// The command tree as JSON, from this binary (ArgumentParser's own description of it).
    static func dumpHelp(binary: String) throws -> Data {
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: binary)
        tool.arguments = ["--experimental-dump-help"]
        let out = Pipe()
        tool.standardOutput = out
        try tool.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        tool.waitUntilExit()
        guard tool.terminationStatus == 0 else { throw InstallError("cannot describe the command tree (cvmctl --experimental-dump-help exited \(tool.terminationStatus))") }
        return data
    }

    struct InstallError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Each file beside its place (`NAME.cvmctl-new`), then every one renamed into place; a
    /// failure before the renames removes what was written.
    static func write(_ items: [Item]) throws {
        var staged: [String] = []
        do {
            for item in items {
                let directory = (item.path as NSString).deletingLastPathComponent
                do {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } catch {
                    throw InstallError("cannot create \(directory): \(Self.reason(error)); run as root, or choose --prefix/--root")
                }
                let temporary = item.path + ".cvmctl-new"
                guard FileManager.default.createFile(atPath: temporary, contents: item.contents) else {
                    throw InstallError("cannot write \(temporary): \(String(cString: strerror(errno))); run as root, or choose --prefix/--root")
                }
                staged.append(temporary)
                guard chmod(temporary, item.mode) == 0 else { throw InstallError("cannot set the mode of \(temporary): \(String(cString: strerror(errno)))") }
            }
        } catch {
            for path in staged { unlink(path) }
            throw error
        }
        for item in items where rename(item.path + ".cvmctl-new", item.path) != 0 {
            throw InstallError("cannot move \(item.path) into place: \(String(cString: strerror(errno)))")
        }
    }

    private static func reason(_ error: any Error) -> String {
        ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.localizedDescription ?? "\(error)"
    }
}
