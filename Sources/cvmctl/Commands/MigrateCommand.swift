import ArgumentParser
import Foundation
import Orchestrator
import Synchronization

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Live-migrate a running CVM to another host; it keeps running, its identity and its disk.",
        discussion: """
        The destination gets the kernel (only if it lacks that sha256), the CVM's initrd and an \
        empty disk; the disk's contents are copied during the migration. Ctrl-C aborts: the \
        CVM keeps running where it was and the destination is cleaned up. Migrations towards \
        the local host need CVM_MIGRATION_ADDRESS (the address remote hosts reach it at).
        """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The CVM's name.") var name: String

    @Option(help: "Destination host.") var to: String

    @Option(help: ArgumentHelp("Bandwidth limit in MiB/s.", valueName: "mib/s")) var bandwidth: UInt64?

    @Option(help: ArgumentHelp("Longest pause allowed at switch-over, in ms.", valueName: "ms"))
    var maxDowntime: Int64 = MigrateRequest.defaultMaxDowntime.milliseconds

    func validate() throws {
        if maxDowntime == 0 { throw ValidationError("--max-downtime must be at least 1 ms") }
        if bandwidth == 0 { throw ValidationError("--bandwidth must be at least 1 MiB/s") }
    }

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            let watched = !global.quiet && !global.json
            let request = MigrateRequest(name: name, destination: to, bandwidthMiBs: bandwidth, maxDowntime: .milliseconds(maxDowntime),
                                         reportProgress: watched)
            let bar = ProgressBar(enabled: watched)
            let result = try await cancellableOnSignal {
                try await orchestrator.migrate(request) { event in
                    switch event {
                    case .phase(let text): bar.line(text)
                    case .transfer(let done, let total, let what): bar.update("uploading \(what)", done: done, total: total)
                    case .copying(let remaining, let total):
                        bar.update("copying memory and disk", done: Int64(total - min(remaining, total)), total: Int64(total))
                    }
                }
            }
            bar.finish()
            if global.json { try JSONOutput.print(result); return }
            print("migrated \(result.name) from \(result.from) to \(result.to) in \(result.totalMs) ms; pause \(result.pauseMs.map { "\($0) ms" } ?? "unknown")")
        }
    }
}
