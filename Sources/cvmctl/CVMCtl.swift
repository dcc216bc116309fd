import ArgumentParser
import Foundation

@main
struct CVMCtl: AsyncParsableCommand {
    /// `cvmctl --version`, and what the API's /health says.
    static let version = "0.10.0"

    static let configuration = CommandConfiguration(
        commandName: "cvmctl",
        abstract: "Deploy, watch, migrate and retire component VMs (CVMs) beside the traffic manager.",
        discussion: """
        Settings come from flags, then environment variables (CVM_STATE, CVM_IMAGES, \
        CVM_CONNECT, CVM_VIRT_TYPE, ...), then the settings file (--settings, CVM_SETTINGS, else \
        /etc/cvmctl/config.yaml), then defaults; `cvmctl config` shows where each came from.
        """,
        version: version,
        subcommands: [
            DeployCommand.self, DecommissionCommand.self, StatusCommand.self, ImageCommand.self,
            MigrateCommand.self, MonitorCommand.self, EventsCommand.self, HostCommand.self,
            ClusterCommand.self, PolicyCommand.self, ExplainCommand.self, ElasticCommand.self, TmsCommand.self,
            ProbeCommand.self, ServeCommand.self, TokenCommand.self, LogsCommand.self, ConfigCommand.self, InstallCommand.self, ConsoleCommand.self,
        ])

    /// ArgumentParser's own entry, plus an orderly end: libvirt connections are closed,
    /// output is flushed, and the process leaves with `_exit`. Running the C library's exit
    /// handlers would tear down OpenSSL while a worker thread may still be releasing the
    /// last handle of an SSH-tunnelled libvirt connection, which crashes the process.
    static func main() async {
        // A peer that closes a socket we write to (an SSH-tunnelled libvirt connection to a
        // host that dropped off, a TMS admin endpoint, a closed pipe) must be an error on
        // that write, not the death of the process.
        signal(SIGPIPE, SIG_IGN)
        var code: Int32 = 0
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            code = exitCode(for: error).rawValue
            var message = fullMessage(for: error)
            if code == ExitCode.validationFailure.rawValue {
                // A bad flag or value: one line, like every other error, and status 1.
                message = usageErrorLine(for: error)
                code = ExitCode.failure.rawValue
            }
            if !message.isEmpty {
                fflush(nil) // keep the order of what was already printed
                writeAll(message + "\n", to: code == 0 ? 1 : 2)
            }
        }
        OpenOrchestrators.closeAll()
        fflush(nil)
        _exit(code)
    }

    /// `cvmctl: error: MESSAGE (see 'cvmctl COMMAND --help')` for a bad flag or value.
    static func usageErrorLine(for error: any Error) -> String {
        let message = Self.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        let stripped = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
        let words = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }.prefix(2).joined(separator: " ")
        return "cvmctl: error: \(stripped) (see 'cvmctl \(words.isEmpty ? "" : words + " ")--help')"
    }
}

/// Writes `text` to a file descriptor, ignoring a reader that went away (`cvmctl … | head`):
/// FileHandle.write traps on EPIPE, and SIGPIPE is ignored, so a closed pipe is an error here.
func writeAll(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
