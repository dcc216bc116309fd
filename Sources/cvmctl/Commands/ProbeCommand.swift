import ArgumentParser
import CVMProtocol
import Foundation
import Orchestrator

struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Have a CVM's agent try a TCP connection, to check what the CVM segment lets a guest reach.",
        discussion: """
            The agent adds a host route to the target for the attempt, as a hostile guest could: \
            --via link puts the target straight on the segment (a host's own addresses answer there \
            unless the orchestrator's firewall drops them), --via gateway sends it through the \
            traffic manager's machine. Prints open, refused, timeout (dropped), unreachable or error.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.")
    var name: String

    @Argument(help: "Target as a literal IPv4 address and port, like 10.200.0.2:22.")
    var target: String

    @Option(help: "Route to the target: link or gateway.")
    var via: String = "link"

    func validate() throws {
        guard let route = ProbeTarget.Route(rawValue: via) else { throw ValidationError("--via must be link or gateway") }
        guard ProbeTarget(target, route: route) != nil else {
            throw ValidationError("the target must be a literal IPv4 address and port, like 10.200.0.2:22 (got '\(target.prefix(40))')")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let probe = ProbeTarget(target, route: ProbeTarget.Route(rawValue: via)!)!
            let result = try await global.orchestrator().probe(cvm: name, target: probe)
            if global.json {
                try JSONOutput.print(["cvm": name, "target": probe.endpoint, "via": probe.route.rawValue, "result": result.rawValue])
                return
            }
            print("\(name) -> \(probe): \(result.rawValue)")
        }
    }
}
