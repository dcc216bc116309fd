import ArgumentParser
import CVMProtocol
import Foundation
import Orchestrator
import TrafficManager

struct TmsServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Send a cvm-tms CVM its data plane's configuration and wait until it serves.",
        discussion: """
            The file is a traffic manager configuration (the keys of `cvmctl tms run`; its admin \
            endpoint is ignored inside the CVM), checked here first. It goes to the CVM's agent \
            over the signed agent channel (at most 4 KiB on the wire); the agent starts the data \
            plane, or reloads it without dropping connections, and its heartbeats then report \
            whether it serves and its connections, bytes and spills (`cvmctl status --json`).
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.")
    var name: String

    @Option(help: ArgumentHelp("The data plane's configuration (YAML).", valueName: "file"))
    var config: String

    @Option(help: "Seconds to wait for the first heartbeat that says it serves.")
    var timeout: Double = 20

    func validate() throws {
        guard timeout > 0, timeout <= 600 else { throw ValidationError("--timeout must be between 0 and 600 seconds") }
    }

    func run() async throws {
        try await reportingErrors {
            // Checked here, with file:line:column errors, before anything is sent.
            _ = try TMSConfig.load(file: config)
            let text = try String(contentsOfFile: config, encoding: .utf8)
            let result = try await global.orchestrator().serve(cvm: name, config: text, timeout: .milliseconds(Int64(timeout * 1000)))
            if global.json {
                try JSONOutput.print(["cvm": result.name, "address": result.address ?? "", "serving": "true",
                                      "elapsedMs": "\(result.elapsedMs)"])
                return
            }
            print("\(result.name) serving at \(result.address ?? "?") (\(result.elapsedMs) ms)")
        }
    }
}
