import ArgumentParser
import Foundation
import Orchestrator
import TrafficManager

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the journal of decisions and actions, with reasons and policy commits (as `cvmctl logs`).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var journal: JournalOptions

    func run() async throws {
        try await reportingErrors { try await journal.show(global: global) }
    }
}

/// The orchestrator's journal as `cvmctl events` and `cvmctl logs` show it: the last events
/// that match, then (with --follow) new ones as they are recorded.
struct JournalOptions: ParsableArguments {
    @Flag(help: "Keep printing new events as they happen.")
    var follow = false

    @Option(help: "Show only the last N events (of those that match).")
    var last: Int = 50

    @Option(help: "Only events whose kind starts with this (deploy, migrate., elastic., host.added).")
    var kind: String?

    @Option(help: "Only this CVM's events.")
    var cvm: String?

    @Option(help: "Only events since: a duration back from now (90s, 15m, 2h, 7d) or an ISO 8601 time (2026-12-03T18:00:00Z).")
    var since: String?

    func validate() throws {
        guard last >= 0 else { throw ValidationError("--last must be 0 or more") }
        if let since { _ = try Self.date(since) }
    }

    static func date(_ text: String) throws -> Date {
        do {
            return Date(timeIntervalSince1970: Double(try AccessLogQuery.time(text)) / 1000)
        } catch {
            throw ValidationError("--since: \(error)")
        }
    }

    func show(global: GlobalOptions) async throws {
        let store = try global.orchestrator().store
        let filter = EventFilter(kind: kind, cvm: cvm, since: try since.map(Self.date))
        let all = try await store.events(after: 0, limit: Int.max)
        var seen = all.last?.id ?? 0
        emit(Array(all.filter(filter.matches).suffix(last)), json: global.json)
        while follow {
            try await Task.sleep(for: .milliseconds(250))
            let new = try await store.events(after: seen)
            if let lastID = new.last?.id { seen = lastID }
            emit(new.filter(filter.matches), json: global.json)
        }
    }

    func emit(_ events: [EventRecord], json: Bool) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for e in events {
            if json {
                try? JSONOutput.printLine(e)
            } else {
                let commit = e.policyCommit.map { " [policy \($0.prefix(12))]" } ?? ""
                print("\(formatter.string(from: e.at))  \(e.kind.padding(toLength: 18, withPad: " ", startingAt: 0)) \(e.cvm ?? "-")@\(e.host ?? "-"): \(e.message)\(commit)")
            }
        }
    }
}
