import CVMProtocol
import ArgumentParser
import Foundation
import Orchestrator

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Deploy a CVM and wait for its first authenticated heartbeat.",
        discussion: """
        Verifies the image's sha256 checksums, defines and starts the domain with the CVM's \
        identity and secret injected, and returns once the agent inside has sent a valid \
        heartbeat. On timeout, error or Ctrl-C everything created is removed again. \
        Repeating a deploy of a running CVM is a no-op.
        """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "Image name from the catalog (see `cvmctl image list`).")
    var image: String

    @Option(help: "CVM name (a-z, 0-9, '-'); generated when omitted.")
    var name: String?

    @Option(help: "Host to deploy on.")
    var host: String = CVMOrchestrator.localHostName

    @Option(help: "Task the CVM runs (default: the image's first task).")
    var task: String?

    @Option(help: "Cluster role: single, master or servant.")
    var role: AgentConfig.Role = .single

    @Option(help: "vCPUs (default: the image's).")
    var vcpus: Int?

    @Option(help: "Memory in MiB (default: the image's).")
    var memory: Int?

    @Option(help: "Seconds to wait for the first heartbeat before rolling back.")
    var timeout: Double?

    func validate() throws {
        if let timeout, timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if let vcpus, !(1...64).contains(vcpus) { throw ValidationError("--vcpus must be 1...64") }
        if let memory, !(32...65536).contains(memory) { throw ValidationError("--memory must be 32...65536 MiB") }
    }

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            let request = DeployRequest(image: image, name: name, host: host, task: task, role: role,
                                        vcpus: vcpus, memoryMiB: memory, timeout: timeout.map { .milliseconds(Int64(min($0, 86_400) * 1000)) })
            let global = self.global
            let result = try await cancellableOnSignal {
                try await orchestrator.deploy(request) { global.progress($0) }
            }
            if global.json {
                try JSONOutput.print(DeployOutput(result))
            } else if result.created {
                print("deployed \(result.cvm.name) on \(result.cvm.host) (\(result.cvm.virtType)): first heartbeat \(result.bootToHeartbeatMs) ms after start, \(result.totalMs) ms in all")
            } else {
                print("\(result.cvm.name) is already running on \(result.cvm.host); nothing to do")
            }
        }
    }
}

struct DeployOutput: Encodable {
    var name: String
    var id: String
    var host: String
    var image: String
    var virtType: String
    var created: Bool
    var bootToHeartbeatMs: Int
    var totalMs: Int

    init(_ r: DeployResult) {
        name = r.cvm.name
        id = r.cvm.id
        host = r.cvm.host
        image = r.cvm.image
        virtType = r.cvm.virtType
        created = r.created
        bootToHeartbeatMs = r.bootToHeartbeatMs
        totalMs = r.totalMs
    }
}

extension AgentConfig.Role: ExpressibleByArgument {}
