import CVMProtocol
import ArgumentParser
import Foundation
import Logging
import Orchestrator
import Synchronization

extension VirtTypeRequest: ExpressibleByArgument {}

/// Options every command shares. Precedence: flag > environment variable > default.
struct GlobalOptions: ParsableArguments {
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

    func validate() throws {
        if virtType == nil, let value = ProcessInfo.processInfo.environment["CVM_VIRT_TYPE"], VirtTypeRequest(rawValue: value) == nil {
            throw ValidationError("CVM_VIRT_TYPE must be auto, kvm or qemu, not '\(value)'")
        }
        if let value = ProcessInfo.processInfo.environment["CVM_SUBNET"], case .failure(let problem) = IPv4Subnet.parse(value) {
            throw ValidationError("CVM_SUBNET: \(problem)")
        }
    }

    var configuration: OrchestratorConfiguration {
        let env = ProcessInfo.processInfo.environment
        var c = OrchestratorConfiguration()
        c.stateDirectory = state ?? env["CVM_STATE"] ?? c.stateDirectory
        c.imagesDirectory = images ?? env["CVM_IMAGES"] ?? c.imagesDirectory
        c.localURI = connect ?? env["CVM_CONNECT"] ?? c.localURI
        c.virtType = virtType ?? env["CVM_VIRT_TYPE"].flatMap(VirtTypeRequest.init(rawValue:)) ?? c.virtType
        c.localMigrationAddress = env["CVM_MIGRATION_ADDRESS"]
        if let value = env["CVM_SUBNET"], case .success(let subnet) = IPv4Subnet.parse(value) { c.cvmSubnet = subnet }
        return c
    }

    var logger: Logger {
        var logger = Logger(label: "cvmctl") { StreamLogHandler.standardError(label: $0) }
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
        FileHandle.standardError.write(Data("\(line)\n".utf8))
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
