import CVMProtocol
import ArgumentParser
import Foundation
import Logging
import Orchestrator
import Synchronization

extension VirtTypeRequest: ExpressibleByArgument {}

/// Options every command shares. Precedence: flag > environment variable > the settings file
/// (`SettingsFile`) > default.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("settings"), help: ArgumentHelp("Settings file (default: CVM_SETTINGS, else /etc/cvmctl/config.yaml when it exists).", valueName: "file"))
    var settingsFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of tables.")
    var json = false

    @Flag(name: .shortAndLong, help: "Log more (repeat for trace).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "Print only errors.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp("State directory (SQLite store, local volumes).", valueName: "dir"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("libvirt URI of the local hypervisor.", valueName: "uri"))
    var connect: String?

    @Option(name: .long, help: ArgumentHelp("Image catalog directory.", valueName: "dir"))
    var images: String?

    @Option(name: .long, help: ArgumentHelp("Domain type: auto (probe KVM, else TCG), kvm or qemu.", valueName: "type"))
    var virtType: VirtTypeRequest?

    @Option(name: .long, help: ArgumentHelp("Log lines as text or json (one object a line on stderr; env CVM_LOG_FORMAT).", valueName: "format"))
    var logFormat: LogFormat?

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func validate() throws {
        // A bad settings file is its own one-line error (file:line:column), not a usage error.
        do {
            _ = try SettingsFile.active(flag: settingsFile)
        } catch {
            writeAll("cvmctl: error: \(error)\n", to: 2)
            throw ExitCode.failure
        }
        if virtType == nil, let value = ProcessInfo.processInfo.environment["CVM_VIRT_TYPE"], VirtTypeRequest(rawValue: value) == nil {
            throw ValidationError("CVM_VIRT_TYPE must be auto, kvm or qemu, not '\(value)'")
        }
        if logFormat == nil, let value = ProcessInfo.processInfo.environment["CVM_LOG_FORMAT"], LogFormat(rawValue: value) == nil {
            throw ValidationError("CVM_LOG_FORMAT must be text or json, not '\(value)'")
        }
        if let value = ProcessInfo.processInfo.environment["CVM_SUBNET"], case .failure(let problem) = IPv4Subnet.parse(value) {
            throw ValidationError("CVM_SUBNET: \(problem)")
        }
    }

    /// The settings file in force (validated when the options were parsed).
    var settings: SettingsFile { (try? SettingsFile.active(flag: settingsFile)) ?? SettingsFile() }

    var configuration: OrchestratorConfiguration { configuration(environment: ProcessInfo.processInfo.environment) }

    func configuration(environment env: [String: String]) -> OrchestratorConfiguration {
        let file = settings
        var c = OrchestratorConfiguration()
        c.stateDirectory = state ?? env["CVM_STATE"] ?? file.state ?? c.stateDirectory
        c.imagesDirectory = images ?? env["CVM_IMAGES"] ?? file.images ?? c.imagesDirectory
        c.localURI = connect ?? env["CVM_CONNECT"] ?? file.connect ?? c.localURI
        c.virtType = virtType ?? env["CVM_VIRT_TYPE"].flatMap(VirtTypeRequest.init(rawValue:)) ?? file.virtType ?? c.virtType
        c.localMigrationAddress = env["CVM_MIGRATION_ADDRESS"] ?? file.migrationAddress
        if let value = env["CVM_SUBNET"], case .success(let subnet) = IPv4Subnet.parse(value) {
            c.cvmSubnet = subnet
        } else if let subnet = file.subnet {
            c.cvmSubnet = subnet
        }
        return c
    }

    var logger: Logger {
        let format = logFormat ?? ProcessInfo.processInfo.environment["CVM_LOG_FORMAT"].flatMap(LogFormat.init(rawValue:))
            ?? settings.logFormat ?? .text
        var logger = Logger(label: "cvmctl") { label -> any LogHandler in
            format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = quiet ? .error : verbose >= 2 ? .trace : verbose == 1 ? .debug : .warning
        return logger
    }

    func orchestrator() throws -> CVMOrchestrator {
        let orchestrator = try CVMOrchestrator(configuration: configuration, logger: logger)
        OpenOrchestrators.shared.withLock { $0.append(orchestrator) }
        return orchestrator
    }

    /// Progress lines go to stderr so stdout stays clean for `--json`.
    func progress(_ line: String) {
        guard !quiet else { return }
        writeAll("\(line)\n", to: 2)
    }
}

/// Orchestrators this process opened, closed before it exits (see `CVMOrchestrator.close()`).
enum OpenOrchestrators {
    static let shared = Mutex<[CVMOrchestrator]>([])

    static func closeAll() {
        let all = shared.withLock { list in defer { list.removeAll() }; return list }
        all.forEach { $0.close() }
    }
}
