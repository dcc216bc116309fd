import Foundation
import Orchestrator
import Testing
@testable import cvmctl

/// `cvmctl status`'s documented exit statuses, from reports as `--json` prints them.
@Suite struct StatusExitTests {
    static func report(states: [String], mismatches: Int = 0, unreachable: [String] = []) throws -> StatusReport {
        let cvms = states.enumerated().map { index, state in
            #"{"name": "c\#(index)", "id": "i\#(index)", "state": "\#(state)", "host": "local", "image": "cvm-base", "task": "t", "role": "single", "domainState": "running"}"#
        }
        let problems = (0..<mismatches).map { #"{"host": "local", "cvm": "c\#($0)", "problem": "no such domain in libvirt"}"# }
        let json = """
            {"cvms": [\(cvms.joined(separator: ","))], "mismatches": [\(problems.joined(separator: ","))], "monitorAlive": true,
             "unreachableHosts": [\(unreachable.map { "\"\($0)\"" }.joined(separator: ","))], "hostProblems": {}}
            """
        return try JSONDecoder().decode(StatusReport.self, from: Data(json.utf8))
    }

    @Test("0 when all is well, 2 for a failed or unknown CVM, 3 for a mismatch or an unreachable host (over 2)")
    func codes() throws {
        #expect(StatusCommand.exitStatus(try Self.report(states: [])) == 0)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["running", "deploying", "migrating", "stopping"])) == 0)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["running", "failed"])) == 2)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["unknown"])) == 2)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["running"], mismatches: 1)) == 3)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["failed"], mismatches: 1)) == 3)
        #expect(StatusCommand.exitStatus(try Self.report(states: ["running"], unreachable: ["cloud"])) == 3)
    }
}
