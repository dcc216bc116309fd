import ArgumentParser
import Foundation
import Orchestrator

struct DecommissionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decommission",
        abstract: "Stop a CVM's agent gracefully, then destroy and undefine it and delete its volumes.",
        discussion: "Safe to repeat: a CVM that is already gone is reported as such.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.")
    var name: String

    @Option(help: "Seconds the agent gets to power off before the domain is destroyed.")
    var grace: Double = 10

    @Option(help: "Seconds a CVM whose data plane serves gets for its open connections to end (no new ones reach it meanwhile); 0 skips the drain.")
    var drainTimeout: Double = 30

    func validate() throws {
        if !(grace >= 0) { throw ValidationError("--grace must be >= 0 seconds") }
        if !(drainTimeout >= 0) { throw ValidationError("--drain-timeout must be >= 0 seconds") }
    }

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            let (name, grace, drain) = (self.name, self.grace, self.drainTimeout)
            let result = try await orchestrator.decommission(name: name, grace: .milliseconds(Int64(min(grace, 86_400) * 1000)),
                                                             drain: .milliseconds(Int64(min(drain, 86_400) * 1000)))
            if global.json {
                var fields = ["name": result.name, "outcome": result.outcome.rawValue, "totalMs": "\(result.totalMs)"]
                if let drained = result.drain {
                    fields["drainedMs"] = "\(drained.waitedMs)"
                    fields["drainRemaining"] = "\(drained.remaining)"
                }
                try JSONOutput.print(fields)
                return
            }
            if let drained = result.drain { print("\(name): \(drained.summary)") }
            switch result.outcome {
            case .stoppedGracefully: print("decommissioned \(name): agent stopped, domain and volumes removed (\(result.totalMs) ms)")
            case .destroyed: print("decommissioned \(name): domain destroyed, volumes removed (\(result.totalMs) ms)")
            case .alreadyGone: print("\(name) was already decommissioned; nothing to do")
            case .deferred:
                print("\(name) left its cluster and task, but its host does not answer: the heartbeat monitor destroys its domain and volumes when the host is back (state: fencing)")
            }
        }
    }
}
