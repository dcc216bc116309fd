import CVMProtocol
import Testing

@Suite struct CommandTests {
    @Test(arguments: Command.Operation.allCases)
    func roundTrips(op: Command.Operation) throws {
        let probe = op == .probe ? ProbeTarget(address: 0x0a4d_0001, port: 22, route: .link) : nil
        let command = Command(id: Fixture.id, seq: 1_700_000_000_123, op: op, probe: probe,
                              config: op == .serve ? "vServers:\n  - name: a\n" : nil)
        let parsed = try WireMessage.parse(command.render(signedWith: Fixture.secret))
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(try Command(parsed) == command)
    }

    @Test func configureCarriesRoleAndPeers() throws {
        let command = Command(id: Fixture.id, seq: 7, op: .configure, role: .master, peers: ["web-2", "web-3"])
        let parsed = try WireMessage.parse(command.render(signedWith: Fixture.secret))
        #expect(parsed["role"] == "master" && parsed["peers"] == "web-2,web-3")
        let back = try Command(parsed)
        #expect(back == command && back.role == .master && back.peers == ["web-2", "web-3"])
        let alone = try Command(WireMessage.parse(Command(id: Fixture.id, seq: 8, op: .configure, role: .servant)
            .render(signedWith: Fixture.secret)))
        #expect(alone.role == .servant && alone.peers.isEmpty)
        // Other operations carry neither.
        let stop = Command(id: Fixture.id, seq: 9, op: .stop, role: .master, peers: ["x"])
        #expect(stop.role == nil && stop.peers.isEmpty && stop.message["role"] == nil)
    }

    @Test func probeCarriesItsTargetAndRoute() throws {
        let target = try #require(ProbeTarget("10.200.0.2:22", route: .gateway))
        let command = Command(id: Fixture.id, seq: 3, op: .probe, probe: target)
        let parsed = try WireMessage.parse(command.render(signedWith: Fixture.secret))
        #expect(parsed["target"] == "10.200.0.2:22" && parsed["via"] == "gateway")
        #expect(try Command(parsed) == command)
        #expect(Command(id: Fixture.id, seq: 4, op: .ping, probe: target).probe == nil, "only a probe carries one")
        func probe(_ extra: [WireMessage.Field]) throws -> WireMessage {
            try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "1"), .init("op", "probe")] + extra)
        }
        for bad in ["", "10.200.0.2", "10.200.0.2:0", "10.200.0.2:65536", "10.200.0.2:022", "host.example:22",
                    "10.200.0.2:22:1", "[::1]:22", "10.200.0.2:-1", String(repeating: "9", count: 5000)] {
            #expect(throws: WireError.self, "\(bad.prefix(20))") { try Command(probe([.init("target", bad), .init("via", "link")])) }
        }
        #expect(throws: WireError.self) { try Command(probe([.init("target", "10.0.0.1:22"), .init("via", "tunnel")])) }
        #expect(throws: WireError.self) { try Command(probe([.init("target", "10.0.0.1:22")])) }
    }

    @Test func serveCarriesTheDataPlanesConfigurationIntact() throws {
        let yaml = "cores: 1\nvServers:\n  - name: backup   # a comment = with % and spaces\n    bind: 0.0.0.0:8090\n"
        let command = Command(id: Fixture.id, seq: 2, op: .serve, config: yaml)
        let line = command.render(signedWith: Fixture.secret)
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")), "one line on the wire")
        #expect(try Command(WireMessage.parse(line)).config == yaml)
        let empty = try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "1"), .init("op", "serve"), .init("config", "")])
        #expect(throws: WireError.self) { try Command(empty) }
        #expect(Command(id: Fixture.id, seq: 3, op: .ping, config: yaml).config == nil)
    }

    @Test func rejectsConfigureWithoutAValidRoleOrPeers() throws {
        func configure(_ extra: [WireMessage.Field]) throws -> WireMessage {
            try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "1"), .init("op", "configure")] + extra)
        }
        #expect(throws: WireError.self) { try Command(configure([.init("peers", "")])) }
        #expect(throws: WireError.self) { try Command(configure([.init("role", "king"), .init("peers", "")])) }
        #expect(throws: WireError.self) { try Command(configure([.init("role", "master")])) }
        #expect(throws: WireError.self) { try Command(configure([.init("role", "master"), .init("peers", "a,,b")])) }
        #expect(throws: WireError.self) { try Command(configure([.init("role", "master"), .init("peers", "a b")])) }
    }

    @Test func rejectsUnknownOperationsAndOtherKinds() throws {
        let reboot = try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "1"), .init("op", "reboot")])
        #expect(throws: WireError.self) { try Command(reboot) }
        let negative = try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "-1"), .init("op", "stop")])
        #expect(throws: WireError.self) { try Command(negative) }
        #expect(throws: WireError.self) { try Command(Fixture.heartbeat(seq: 1).message) }
    }
}
