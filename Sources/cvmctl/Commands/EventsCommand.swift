import ArgumentParser
import Foundation
import Orchestrator

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Show the journal of decisions and actions, with reasons and policy commits.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Keep printing new events as they happen.")
    var follow = false

    @Option(help: "Show only the last N events.")
    var last: Int = 50

    func run() async throws {
        try await reportingErrors {
            let store = try global.orchestrator().store
            let all = try await store.events(after: 0, limit: Int.max)
            var seen = all.last?.id ?? 0
            emit(Array(all.suffix(last)))
            while follow {
                try await Task.sleep(for: .milliseconds(250))
                let new = try await store.events(after: seen)
                if let lastID = new.last?.id { seen = lastID }
                emit(new)
            }
        }
    }

    func emit(_ events: [EventRecord]) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for e in events {
            if global.json {
                try? JSONOutput.printLine(e)
            } else {
                let commit = e.policyCommit.map { " [policy \($0.prefix(12))]" } ?? ""
                print("\(formatter.string(from: e.at))  \(e.kind.padding(toLength: 18, withPad: " ", startingAt: 0)) \(e.cvm ?? "-")@\(e.host ?? "-"): \(e.message)\(commit)")
            }
        }
    }
}
