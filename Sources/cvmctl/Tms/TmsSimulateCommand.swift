import ArgumentParser
import Foundation
import TMSCore

/// `tms simulate`: replay a connection trace through the real pool code.
struct TmsSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay a connection trace through the quota pools and report what they did.",
        discussion: """
            The trace is CSV: time,core,event,client per line (time in seconds, event open or close; \
            the header line is optional). Each open first meets the spillover rule (counted as spilled \
            when a backup exists), then admission; without quota it waits (--queue) or is refused.
            """)

    @OptionGroup var pools: TmsPoolOptions

    @Option(help: ArgumentHelp("The CSV trace to replay.", valueName: "file"))
    var trace: String

    @Option(help: "Requests that may wait for quota at once (0: refuse instead of waiting).")
    var queue = 0

    @Option(help: ArgumentHelp("How long a request may wait, in seconds.", valueName: "seconds"))
    var queueTimeout: Double = 5

    @Flag(help: "There is no backup vServer: spillover candidates go through admission instead.")
    var noBackup = false

    @Flag(help: "Print JSON (the report per core, totals and the peak in use).")
    var json = false

    func validate() throws {
        guard queue >= 0 else { throw ValidationError("--queue must be 0 or more (got \(queue))") }
        guard queueTimeout >= 0, queueTimeout.isFinite else {
            throw ValidationError("--queue-timeout must be a number of seconds, 0 or more (got \(queueTimeout))")
        }
    }

    func run() throws {
        print(try render())
    }

    /// Reads the trace, replays it and returns the output.
    func render() throws -> String {
        let text = try Self.read(trace)
        let policy: QueuePolicy = queue == 0
            ? .refuse : .wait(capacity: queue, timeout: .nanoseconds(Int64((queueTimeout * 1e9).rounded())))
        let simulator = try TraceSimulator(options: .init(config: pools.config, queue: policy, spillToBackup: !noBackup))
        let report: SimulationReport
        do {
            report = try simulator.run(csv: text)
        } catch {
            throw TmsCommandError("\(trace): \(error)")
        }
        return json ? try Self.json(report) : Self.table(report)
    }

    static func table(_ report: SimulationReport) -> String {
        let sizing = report.sizing
        var lines = [
            "Replayed \(report.events) events: limit \(sizing.limit) on \(sizing.cores) cores "
                + "(exclusive pool \(sizing.exclusivePool), \(sizing.perCoreExclusive) per core, "
                + "shared \(sizing.sharedPool), batch \(sizing.batch))",
            "",
        ]
        let header = ["CORE", "ADMITTED", "BORROWED BATCHES", "SPILLED", "QUEUED", "REFUSED"]
        var rows = report.cores.map { core in
            ["\(core.core)", "\(core.admitted)", "\(core.borrowedBatches)", "\(core.spilled)", "\(core.queued)",
             "\(core.refused)"]
        }
        let total = report.total
        rows.append(["all", "\(total.admitted)", "\(total.borrowedBatches)", "\(total.spilled)", "\(total.queued)",
                     "\(total.refused)"])
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
        for row in [header] + rows {
            lines.append(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        lines.append("")
        lines.append("peak in use: \(report.peakInUse) at \(report.peakTimeSeconds) s; "
            + "open at end: \(report.openAtEnd); waiting at end: \(report.waitingAtEnd)")
        if total.queued > 0 {
            lines.append("of the queued: \(total.servedFromQueue) served, \(total.expired) timed out (counted as refused)")
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: SimulationReport) throws -> String {
        struct Output: Encodable {
            let report: SimulationReport
            func encode(to encoder: any Encoder) throws {
                try report.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(report.total, forKey: .total)
            }
            enum Key: String, CodingKey { case total }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(Output(report: report)), as: UTF8.self)
    }

    static func read(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TmsCommandError("cannot read trace \(path): no such file")
        }
        guard !isDirectory.boolValue else { throw TmsCommandError("cannot read trace \(path): it is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TmsCommandError("cannot read trace \(path): permission denied")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TmsCommandError("cannot read trace \(path): not UTF-8 text")
        }
        return text
    }
}

/// A failure of a `tms` command, printed as one line.
struct TmsCommandError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
