import ArgumentParser
import Foundation
import TMSCore
import Testing
@testable import cvmctl

@Suite struct TmsPoolsCommandTests {
    @Test func printsThePoolsAsATable() throws {
        let output = try TmsPoolsCommand.parse(["--limit", "100", "--cores", "7"]).render()
        let lines = output.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1).map(String.init) }
        let sizing = try PoolSizing(limit: 100, cores: 7)
        #expect(output.contains("exclusive pool      \(sizing.exclusivePool)  (80% of 100, down to a multiple of 7)"))
        #expect(output.contains("per-core exclusive  \(sizing.perCoreExclusive)\n"))
        #expect(output.contains("shared pool         \(sizing.sharedPool)\n"))
        #expect(output.contains("batch               \(sizing.batch)  (10% of 23, at least 1)"))
        #expect(lines.count == 6)
    }

    @Test(arguments: [(100, 2, "80", "10"), (100, 7, "80", "10"), (5, 7, "80", "10"), (1_000, 3, "12.5", "25")])
    func printsJSONWithTheDocumentedKeys(limit: Int, cores: Int, exclusive: String, batch: String) throws {
        let command = try TmsPoolsCommand.parse([
            "--limit", "\(limit)", "--cores", "\(cores)", "--exclusive-percent", exclusive, "--batch-percent", batch, "--json",
        ])
        let object = try JSONSerialization.jsonObject(with: Data(try command.render().utf8)) as! [String: Int]
        let sizing = try PoolSizing(PoolConfig(limit: limit, cores: cores, exclusivePercent: Percentage(parsing: exclusive)!,
                                               batchPercent: Percentage(parsing: batch)!))
        #expect(object["exclusivePool"] == sizing.exclusivePool)
        #expect(object["perCoreExclusive"] == sizing.perCoreExclusive)
        #expect(object["sharedPool"] == sizing.sharedPool)
        #expect(object["batch"] == sizing.batch)
        #expect(object["limit"] == limit && object["cores"] == cores)
    }

    @Test(arguments: [
        (["--limit", "100", "--cores", "0"], "the core count must be 1 or more (got 0) (--limit 100 --cores 0)"),
        (["--limit=-3", "--cores", "2"], "the limit must be 0 or more (got -3) (--limit -3 --cores 2)"),
    ])
    func rejectsImpossibleInputInValidate(arguments: [String], message: String) {
        #expect(throws: (any Error).self) { try TmsPoolsCommand.parse(arguments) }
        do {
            _ = try TmsPoolsCommand.parse(arguments)
        } catch {
            #expect(TmsPoolsCommand.message(for: error) == message)
            #expect(TmsPoolsCommand.exitCode(for: error) != .success)
        }
    }

    @Test(arguments: ["120", "abc", "-1", "1.234"])
    func rejectsABadPercentage(value: String) {
        do {
            _ = try TmsPoolsCommand.parse(["--limit", "1", "--cores", "1", "--exclusive-percent=\(value)"])
            Issue.record("accepted --exclusive-percent \(value)")
        } catch {
            let message = TmsPoolsCommand.message(for: error)
            #expect(message.contains("expected a percentage from 0 to 100 with at most 2 decimals"))
            #expect(!message.contains("\n"))
            #expect(TmsPoolsCommand.exitCode(for: error) == .validationFailure)
        }
    }

    @Test func helpListsEveryOption() {
        let help = TmsPoolsCommand.helpMessage(columns: 200)
        for option in ["--limit <limit>", "--cores <cores>", "--exclusive-percent <percent>", "--batch-percent <percent>",
                       "--json", "default 80", "default 10"] {
            #expect(help.contains(option), "help lacks \(option)")
        }
        #expect(TmsPoolsCommand.configuration.commandName == "pools")
    }
}
