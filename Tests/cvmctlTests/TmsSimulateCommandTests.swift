import ArgumentParser
import Foundation
import TMSCore
import Testing
@testable import cvmctl

@Suite struct TmsSimulateCommandTests {
    /// Writes `text` to a fresh temporary file and returns its path.
    func traceFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "tms-trace-\(UUID().uuidString).csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let trace = """
        time,core,event,client
        0.000,0,open,a
        0.001,0,open,b
        0.002,0,open,c
        0.003,0,open,d
        0.004,0,open,e
        0.005,0,open,f
        0.006,0,open,g
        0.007,1,open,h
        0.010,0,close,a
        """

    @Test func printsATablePerCoreWithTotals() throws {
        let path = try traceFile(Self.trace)
        let output = try TmsSimulateCommand.parse(["--limit", "10", "--cores", "2", "--trace", path]).render()
        let expected = try TraceSimulator(options: .init(config: PoolConfig(limit: 10, cores: 2))).run(csv: Self.trace)
        let rows = output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let coreRows = rows.filter { ["0", "1", "all"].contains($0.first.map(String.init)) }
        #expect(coreRows.count == 3)
        for (row, core) in zip(coreRows, expected.cores + [expected.total]) {
            #expect(row.dropFirst().map { Int($0)! } == [core.admitted, core.borrowedBatches, core.spilled, core.queued,
                                                         core.refused])
        }
        #expect(output.contains("CORE  ADMITTED  BORROWED BATCHES  SPILLED  QUEUED  REFUSED"))
        #expect(output.contains("peak in use: \(expected.peakInUse) "))
        #expect(expected.total.spilled == 1)   // g: core 0 at its share + the whole pool
    }

    @Test func printsJSON() throws {
        let path = try traceFile(Self.trace)
        let command = try TmsSimulateCommand.parse([
            "--limit", "10", "--cores", "2", "--trace", path, "--queue", "3", "--queue-timeout", "0.5", "--no-backup", "--json",
        ])
        let object = try JSONSerialization.jsonObject(with: Data(try command.render().utf8)) as! [String: Any]
        let options = TraceSimulator.Options(config: PoolConfig(limit: 10, cores: 2),
                                             queue: .wait(capacity: 3, timeout: .milliseconds(500)), spillToBackup: false)
        let expected = try TraceSimulator(options: options).run(csv: Self.trace)
        #expect(object["peakInUse"] as? Int == expected.peakInUse)
        let total = object["total"] as! [String: Int]
        #expect(total["queued"] == expected.total.queued && total["servedFromQueue"] == expected.total.servedFromQueue)
        #expect(expected.total.queued == 1 && expected.total.servedFromQueue == 1)
        #expect((object["cores"] as! [[String: Int]]).count == 2)
    }

    @Test func aBadLineIsOneErrorNamingFileAndLine() throws {
        let path = try traceFile("time,core,event,client\n0,0,open,a\n0.5,0,opne,b\n")
        let command = try TmsSimulateCommand.parse(["--limit", "10", "--cores", "2", "--trace", path])
        #expect(throws: TmsCommandError.self) { try command.render() }
        do {
            _ = try command.render()
        } catch {
            #expect(TmsSimulateCommand.message(for: error) == "\(path): line 3: event 'opne' is neither open nor close")
            #expect(TmsSimulateCommand.exitCode(for: error) == .failure)
        }
    }

    @Test func aMissingTraceIsOneClearError() throws {
        let command = try TmsSimulateCommand.parse(["--limit", "10", "--cores", "2", "--trace", "/nonexistent/t.csv"])
        do {
            _ = try command.render()
            Issue.record("a missing trace was accepted")
        } catch {
            #expect(TmsSimulateCommand.message(for: error) == "cannot read trace /nonexistent/t.csv: no such file")
        }
    }

    @Test func rejectsNegativeQueueSettings() {
        #expect(throws: (any Error).self) {
            try TmsSimulateCommand.parse(["--limit", "1", "--cores", "1", "--trace", "x", "--queue", "-1"])
        }
        #expect(throws: (any Error).self) {
            try TmsSimulateCommand.parse(["--limit", "1", "--cores", "1", "--trace", "x", "--queue-timeout", "-2"])
        }
    }

    @Test func helpListsEveryOption() {
        let help = TmsSimulateCommand.helpMessage(columns: 200)
        for option in ["--limit <limit>", "--cores <cores>", "--trace <file>", "--queue <queue>", "--queue-timeout <seconds>",
                       "--no-backup", "--json", "time,core,event,client"] {
            #expect(help.contains(option), "help lacks \(option)")
        }
        #expect(TmsSimulateCommand.configuration.commandName == "simulate")
    }
}
