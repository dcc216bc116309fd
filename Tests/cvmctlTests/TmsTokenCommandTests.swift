import Foundation
import Testing
@testable import cvmctl

@Suite struct TmsTokenCommandTests {
    @Test("tms token create prints the token once and keeps its hash; list shows no secret; revoke removes it; an unknown id is one line")
    func createListRevoke() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("tms-tokens-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: state) }
        let binary = CommandTreeTests.binary.path
        let made = try InstallTests.run(binary, ["tms", "token", "create", "--state", state, "--name", "grafana", "--scope", "read", "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(made.stdout.utf8)) as? [String: String])
        let token = try #require(object["token"]), id = try #require(object["id"])
        #expect(token.hasPrefix("tms_\(id)_") && object["scope"] == "read")
        let file = try String(contentsOfFile: state + "/tms-admin.tokens", encoding: .utf8)
        #expect(!file.contains(token) && file.contains(id))
        let listed = try InstallTests.run(binary, ["tms", "token", "list", "--state", state])
        #expect(listed.status == 0 && listed.stdout.contains(id) && listed.stdout.contains("grafana") && !listed.stdout.contains(token))
        #expect(try InstallTests.run(binary, ["tms", "token", "revoke", "--state", state, id]).status == 0)
        let again = try InstallTests.run(binary, ["tms", "token", "revoke", "--state", state, id])
        #expect(again.status == 1 && again.stderr.split(separator: "\n").count == 1 && again.stderr.contains("no token \(id)"))
        let bad = try InstallTests.run(binary, ["tms", "token", "create", "--state", state, "--name", "x", "--scope", "root"])
        #expect(bad.status == 1 && bad.stderr.contains("--scope must be read or admin"))
    }
}
