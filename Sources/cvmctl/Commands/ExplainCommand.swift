import ArgumentParser
import Foundation
import Orchestrator

struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show why a CVM was placed where it is.",
        discussion: """
        Prints the placement decision recorded when the CVM was placed by `cvmctl policy apply` \
        or `cvmctl elastic run`: every candidate host, the filter that rejected it (with the \
        numbers) or its score term by term, the chosen host and the policy commit. A CVM \
        deployed by hand with `cvmctl deploy --host` has no such decision.
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.")
    var cvm: String

    @Flag(help: "Show every placement of the CVM (its deploy and each migration), oldest first.")
    var all = false

    func run() async throws {
        try await reportingErrors {
            let store = try global.orchestrator().store
            let placements = try store.placements(of: cvm)
            guard let latest = placements.last else {
                if try store.cvm(named: cvm) != nil {
                    throw OrchestratorError.invalidArgument(
                        "no placement decision is recorded for '\(cvm)': it was deployed by hand; only CVMs placed by `cvmctl policy apply` or `cvmctl elastic run` have one")
                }
                throw OrchestratorError.unknownCVM(cvm)
            }
            let shown = all ? placements : [latest]
            if global.json {
                try JSONOutput.print(all ? AnyEncodable(shown) : AnyEncodable(latest))
                return
            }
            let formatter = ISO8601DateFormatter()
            let gone = try store.cvm(named: cvm) == nil ? " (since decommissioned)" : ""
            for (i, p) in shown.enumerated() {
                if i > 0 { print("") }
                print("\(p.cvm)\(gone): \(p.action) on \(p.host) by \(p.origin) at \(formatter.string(from: p.at)), policy commit \(p.policyCommit)")
                print("why: \(p.reason)")
                print(p.explanation)
            }
        }
    }
}

/// Lets one code path print either a single record or a list.
struct AnyEncodable: Encodable {
    let encodeValue: (any Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
