import ArgumentParser
import CVMProtocol
import Foundation
import Orchestrator
import TrafficManager

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "The orchestrator's own journal (the default), and the traffic manager's access log (query).",
        subcommands: [Journal.self, Query.self],
        defaultSubcommand: Journal.self)

    struct Journal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The orchestrator's journal: every decision and action with its reason and policy commit.",
            discussion: """
                What the monitor, elastic mode, the daemon and every command recorded in the store, \
                oldest first; the same as `cvmctl events` and the API's /v1/events. The daemon's \
                process log goes to its stderr (under systemd: journalctl -u cvmctl-serve).
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var journal: JournalOptions

        func run() async throws {
            try await reportingErrors { try await journal.show(global: global) }
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Query the access log: the log-collector CVM's store, or a local access log file.",
            discussion: """
                Without --file, asks the first running CVM of --task (what `cvmctl tms run` ships to, \
                accessLog.cvm) over mutual TLS with the traffic manager's certificate. One record a line \
                (or one JSON object a line with --json), oldest first.
                """)

        @OptionGroup var global: GlobalOptions

        @Option(help: "Records since: a duration back from now (90s, 15m, 2h, 7d) or an ISO 8601 time (2026-12-03T18:00:00Z).")
        var since: String?

        @Option(help: "Records until (same forms as --since).")
        var until: String?

        @Option(name: .customLong("vserver"), help: "Only this vServer's records.")
        var vServer: String?

        @Option(help: "Only this client's records (an IPv4 or IPv6 address).")
        var client: String?

        @Option(help: "Only this outcome: served, spilled, redirected, refused, queued, timed-out (or event).")
        var outcome: String?

        @Option(help: "At most this many records (0-\(AccessLogQuery.maximumLimit)).")
        var limit: Int = 100

        @Flag(help: "Print only how many records match.")
        var count = false

        @Flag(help: "Include the traffic manager's events (service down/up, reloads, a full spool, ...) among the connections.")
        var events = false

        @Option(help: "Read this local access log (accessLog.file) and its rotated files instead of a collector.")
        var file: String?

        @Option(help: "The collector's task (accessLog.cvm.task).")
        var task: String = "log-collector"

        @Option(help: "The collector's port (accessLog.cvm.port).")
        var port: Int = 7480

        func validate() throws {
            guard (0...AccessLogQuery.maximumLimit).contains(limit) else {
                throw ValidationError("--limit must be 0-\(AccessLogQuery.maximumLimit)")
            }
            guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1-65535") }
        }

        func run() async throws {
            try await reportingErrors {
                let query = try makeQuery()
                let records: [AccessLogRecord]
                let matched: Int
                if let file {
                    (records, matched) = try AccessLog.query(file: file, query)
                } else {
                    let answer = try await askCollector(query)
                    (records, matched) = (answer.entries.map(\.record), answer.matched)
                }
                if count {
                    print(global.json ? "{\"matched\":\(matched)}" : "\(matched)")
                    return
                }
                for record in records { print(global.json ? record.json : Self.text(record)) }
                if matched > records.count, !global.json {
                    writeAll("cvmctl: \(matched) records match; \(records.count) shown (--limit)\n", to: 2)
                }
            }
        }

        func makeQuery() throws -> AccessLogQuery {
            do {
                return AccessLogQuery(
                    sinceMs: try since.map { try AccessLogQuery.time($0) }, untilMs: try until.map { try AccessLogQuery.time($0) },
                    vServer: vServer, client: try client.map { try AccessLogQuery.address($0) },
                    outcome: try outcome.map { try AccessLogQuery.outcome($0) }, limit: limit, countOnly: count, includeEvents: events)
            } catch {
                throw OrchestratorError.invalidArgument("\(error)")
            }
        }

        func askCollector(_ query: AccessLogQuery) async throws -> LogCollectorClient.Answer {
            let orchestrator = try global.orchestrator()
            let records = try await orchestrator.store.cvms()
            let leases = try await orchestrator.store.addressLeases()
            guard let record = records.filter({ $0.task == task && ($0.state == .running || $0.state == .migrating) })
                .min(by: { $0.name < $1.name }),
                let address = leases.first(where: { $0.cvmID == record.id })?.address else {
                throw OrchestratorError.invalidArgument("no running CVM of task '\(task)' to ask; start `cvmctl tms run` with accessLog.cvm, or read a local file with --file")
            }
            let gateway = IPv4Subnet.format(orchestrator.configuration.cvmSubnet.gateway)
            let files = try DataPlaneTLS(stateDirectory: orchestrator.configuration.stateDirectory).trafficManager(gateway: gateway)
            return try await LogCollectorClient.query(query, at: HostPort(host: address, port: port),
                                                      tls: TLSConfig(certificate: files.certificate, key: files.key, ca: files.ca))
        }

        static func text(_ record: AccessLogRecord) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let time = formatter.string(from: Date(timeIntervalSince1970: Double(record.timeMs) / 1000))
            return "\(time)  \(record.vServer) core \(record.core)  \(record.client) -> \(record.target)  in \(record.bytesIn) out \(record.bytesOut)  \(Double(record.durationUs) / 1000) ms  \(record.outcome.rawValue)"
        }
    }
}
