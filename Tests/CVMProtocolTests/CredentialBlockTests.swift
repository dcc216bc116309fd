import Testing
@testable import CVMProtocol

/// The credentials area of a CVM's disk: what the orchestrator writes reads back, and a
/// hostile or damaged area gives fewer files, never a crash or a path outside the folder.
@Suite struct CredentialBlockTests {
    let files: [(name: String, text: String)] = [
        ("ca.pem", "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"),
        ("key.pem", "-----BEGIN PRIVATE KEY-----\nREVG\n-----END PRIVATE KEY-----"),
    ]

    @Test func roundTrip() throws {
        let area = try ConfigBlock.encodeCredentials(files)
        #expect(area.count == ConfigBlock.credentialsSize)
        let back = ConfigBlock.credentials(from: area)
        #expect(back.map(\.name) == ["ca.pem", "key.pem"])
        #expect(back.first?.text == files[0].text)
        #expect(back.last?.text == files[1].text + "\n")
    }

    @Test func refusesWhatCannotBeCarried() {
        #expect(throws: AgentConfigError.self) { try ConfigBlock.encodeCredentials([("../evil", "x")]) }
        #expect(throws: AgentConfigError.self) { try ConfigBlock.encodeCredentials([("a.pem", String(repeating: "x", count: 20_000))]) }
        #expect(throws: AgentConfigError.self) { try ConfigBlock.encodeCredentials((0..<9).map { ("f\($0)", "x") }) }
    }

    @Test func hostileOrBlankAreasYieldNoCrashAndNoEscape() {
        #expect(ConfigBlock.credentials(from: [UInt8](repeating: 0, count: 100)).isEmpty)
        #expect(ConfigBlock.credentials(from: Array("garbage".utf8)).isEmpty)
        let hostile = ConfigBlock.credentialsHeader + "\n=== ../../etc/passwd\nroot\n=== ok.pem\nx\n"
        #expect(ConfigBlock.credentials(from: Array(hostile.utf8)).isEmpty, "a bad name ends the list")
        let many = ConfigBlock.credentialsHeader + "\n" + (0..<20).map { "=== f\($0)\nx\n" }.joined()
        #expect(ConfigBlock.credentials(from: Array(many.utf8)).count == ConfigBlock.maximumCredentialFiles)
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = Array((ConfigBlock.credentialsHeader + "\n").utf8) + (0..<300).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = ConfigBlock.credentials(from: bytes)
        }
    }
}
