import ArgumentParser
import Foundation
import TMSCore

/// The pool options shared by the `tms` commands: the limit, the cores and the two
/// percentages of SPEC.md §1.1.
struct TmsPoolOptions: ParsableArguments {
    @Option(help: "The spillover limit L: concurrent connections across all cores.")
    var limit: Int

    @Option(help: "The number of cores N the vServer runs on.")
    var cores: Int

    @Option(help: ArgumentHelp("Share of the limit reserved as per-core exclusive quota (0-100, up to 2 decimals; default 80).",
                               valueName: "percent"),
            transform: parsePercent)
    var exclusivePercent: Percentage = PoolConfig.defaultExclusivePercent

    @Option(help: ArgumentHelp("Share of the shared pool lent per borrow, at least 1 (0-100, up to 2 decimals; default 10).",
                               valueName: "percent"),
            transform: parsePercent)
    var batchPercent: Percentage = PoolConfig.defaultBatchPercent

    var config: PoolConfig {
        PoolConfig(limit: limit, cores: cores, exclusivePercent: exclusivePercent, batchPercent: batchPercent)
    }

    func validate() throws {
        do {
            _ = try VServerQuota.sizing(for: config)
        } catch {
            throw ValidationError("\(error) (--limit \(limit) --cores \(cores))")
        }
    }

    static func parsePercent(_ text: String) throws -> Percentage {
        guard let value = Percentage(parsing: text) else {
            throw ValidationError("expected a percentage from 0 to 100 with at most 2 decimals")
        }
        return value
    }
}

/// `tms pools`: how a limit splits into exclusive and shared quota on N cores.
struct TmsPoolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pools",
        abstract: "Show the quota pools for a connection limit on N cores.",
        discussion: """
            exclusive pool = the largest multiple of the core count <= exclusive-percent of the limit; \
            per-core exclusive = exclusive pool / cores; shared pool = limit - exclusive pool; \
            batch = batch-percent of the shared pool, at least 1.
            """)

    @OptionGroup var pools: TmsPoolOptions

    @Flag(help: "Print JSON (keys: limit, cores, exclusivePool, perCoreExclusive, sharedPool, batch).")
    var json = false

    func run() throws {
        print(try render())
    }

    /// The output, without printing it.
    func render() throws -> String {
        let sizing = try PoolSizing(pools.config)
        if json {
            let output = PoolsJSON(limit: sizing.limit, cores: sizing.cores, exclusivePool: sizing.exclusivePool,
                                   perCoreExclusive: sizing.perCoreExclusive, sharedPool: sizing.sharedPool,
                                   batch: sizing.batch)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(output), as: UTF8.self)
        }
        let rows: [(String, String)] = [
            ("limit", "\(sizing.limit)"),
            ("cores", "\(sizing.cores)"),
            ("exclusive pool", "\(sizing.exclusivePool)  (\(pools.exclusivePercent) of \(sizing.limit), "
                + "down to a multiple of \(sizing.cores))"),
            ("per-core exclusive", "\(sizing.perCoreExclusive)"),
            ("shared pool", "\(sizing.sharedPool)"),
            ("batch", "\(sizing.batch)  (\(pools.batchPercent) of \(sizing.sharedPool), at least 1)"),
        ]
        return rows.map { $0.0.padding(toLength: 20, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }

    struct PoolsJSON: Encodable {
        let limit: Int
        let cores: Int
        let exclusivePool: Int
        let perCoreExclusive: Int
        let sharedPool: Int
        let batch: Int
    }
}
