import CVMProtocol
import Testing

@Suite struct AgentConfigTests {
    static let secretHex = Hex.encode(Fixture.secret)

    static let sample = """
        # written by a test
        id=0F8E2A4C-1B2D-4E5F-8A9B-0C1D2E3F4A5B
        name = hm-1
        task=health-monitor

        role=master
        peers=hm-2, hm-3
        secret=\(secretHex)
        intervalMs=250
        channel=org.cvm.test.1
        """

    @Test func parsesEveryKey() throws {
        let config = try AgentConfig.parse(Self.sample)
        #expect(config.id == Fixture.id)
        #expect(config.name == "hm-1")
        #expect(config.task == "health-monitor")
        #expect(config.role == .master)
        #expect(config.peers == ["hm-2", "hm-3"])
        #expect(config.secret == Fixture.secret)
        #expect(config.intervalMs == 250)
        #expect(config.channel == "org.cvm.test.1")
    }

    @Test func optionalKeysTakeDefaultsAndPeersMayBeEmpty() throws {
        let config = try AgentConfig.parse("""
            id=\(Fixture.id)
            name=a
            task=b
            role=single
            peers=
            secret=\(Self.secretHex)
            """)
        #expect(config.peers == [])
        #expect(config.intervalMs == 1000)
        #expect(config.channel == "org.cvm.agent.0")
    }

    @Test func acceptsCRLFLines() throws {
        let crlf = Self.sample.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        #expect(try AgentConfig.parse(crlf) == AgentConfig.parse(Self.sample))
    }

    @Test func renderParsesBackToTheSameValue() throws {
        let config = try AgentConfig(id: Fixture.id, name: "ss-1", task: "session-store", role: .servant,
                                     peers: ["ss-0", "ss-2"], secret: Fixture.secret, intervalMs: 750)
        let text = config.render()
        #expect(text.hasSuffix("\n"))
        #expect(try AgentConfig.parse(text) == config)
    }

    @Test func descriptionRedactsTheSecret() throws {
        let config = try AgentConfig.parse(Self.sample)
        #expect(!config.description.contains(Self.secretHex))
        #expect(config.description.contains("<redacted>"))
    }

    struct BadFile: Sendable, CustomTestStringConvertible {
        let name: String
        let replace: String
        let with: String
        let code: AgentConfigError.Code
        let line: Int?
        let key: String?
        var testDescription: String { name }
    }

    @Test(arguments: [
        BadFile(name: "unknown key", replace: "intervalMs=250", with: "intervalMS=250",
                code: .unknownKey, line: 9, key: "intervalMS"),
        BadFile(name: "duplicate key", replace: "task=health-monitor", with: "task=a\ntask=b",
                code: .duplicateKey, line: 5, key: "task"),
        BadFile(name: "no equals sign", replace: "role=master", with: "role master",
                code: .syntax, line: 6, key: nil),
        BadFile(name: "missing key", replace: "role=master", with: "",
                code: .missingKey, line: nil, key: "role"),
        BadFile(name: "bad role", replace: "role=master", with: "role=boss",
                code: .invalidValue, line: 6, key: "role"),
        BadFile(name: "bad uuid", replace: "id=0F8E2A4C", with: "id=0F8E2A4X",
                code: .invalidValue, line: 2, key: "id"),
        BadFile(name: "short secret", replace: "secret=00", with: "secret=",
                code: .invalidValue, line: 8, key: "secret"),
        BadFile(name: "interval too small", replace: "intervalMs=250", with: "intervalMs=10",
                code: .invalidValue, line: 9, key: "intervalMs"),
        BadFile(name: "interval not a number", replace: "intervalMs=250", with: "intervalMs=1s",
                code: .invalidValue, line: 9, key: "intervalMs"),
        BadFile(name: "bad peer name", replace: "hm-3", with: "hm 3",
                code: .invalidValue, line: 7, key: "peers"),
        BadFile(name: "empty peer", replace: "hm-2, hm-3", with: "hm-2,,hm-3",
                code: .invalidValue, line: 7, key: "peers"),
        BadFile(name: "channel with slash", replace: "channel=org.cvm.test.1", with: "channel=a/b",
                code: .invalidValue, line: 10, key: "channel"),
    ])
    func reportsLineAndKey(bad: BadFile) {
        let text = Self.sample.replacingFirst(bad.replace, with: bad.with)
        #expect(text != Self.sample, "fixture replacement must apply")
        do {
            _ = try AgentConfig.parse(text)
            Issue.record("parsed a bad file")
        } catch let error as AgentConfigError {
            #expect(error.code == bad.code)
            #expect(error.line == bad.line)
            #expect(error.key == bad.key)
            #expect(!error.description.contains(Self.secretHex.dropFirst(2)))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func initializerChecksFieldsToo() {
        #expect(throws: AgentConfigError.self) {
            try AgentConfig(id: "nope", name: "a", task: "b", role: .single, secret: Fixture.secret)
        }
        #expect(throws: AgentConfigError.self) {
            try AgentConfig(id: Fixture.id, name: "a\nsecret=00", task: "b", role: .single, secret: Fixture.secret)
        }
        #expect(throws: AgentConfigError.self) {
            try AgentConfig(id: Fixture.id, name: "a", task: "b", role: .single, secret: [1, 2, 3])
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

@Suite struct AgentConfigNetworkTests {
    static let base = AgentConfigTests.sample

    @Test func anAddressAndMACRoundTrip() throws {
        let config = try AgentConfig.parse(Self.base + "\naddress=10.77.0.2/24\nmac=52:54:00:4D:00:02\n")
        let network = try #require(config.network)
        #expect(network.addressText == "10.77.0.2/24" && network.mac == "52:54:00:4d:00:02")
        #expect(network.subnet.description == "10.77.0.0/24")
        #expect(try AgentConfig.parse(config.render()) == config)
        #expect(config.description.contains("address: 10.77.0.2/24"))
        // Without them: no NIC, and the rendered file has no such keys.
        let plain = try AgentConfig.parse(Self.base)
        #expect(plain.network == nil && !plain.render().contains("address="))
    }

    @Test(arguments: [
        ("address=10.77.0.2/24", "mac"), ("mac=52:54:00:4d:00:02", "address"),
        ("address=10.77.0.2\nmac=52:54:00:4d:00:02", "address"), ("address=10.77.0.2/31\nmac=52:54:00:4d:00:02", "address"),
        ("address=10.77.0.256/24\nmac=52:54:00:4d:00:02", "address"), ("address=10.77.0.2/24\nmac=52:54:00:4d:00", "mac"),
        ("address=10.77.0.2/24\nmac=52:54:00:4d:00:zz", "mac"), ("address=10.77.0.2/0024\nmac=52:54:00:4d:00:02", "address"),
    ])
    func badNetworkKeysNameTheKey(lines: String, key: String) {
        #expect {
            try AgentConfig.parse(Self.base + "\n" + lines + "\n")
        } throws: { error in
            (error as? AgentConfigError)?.key == key && (error as? AgentConfigError)?.line != nil
        }
    }
}
