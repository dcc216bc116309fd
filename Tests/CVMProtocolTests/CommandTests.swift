import CVMProtocol
import Testing

@Suite struct CommandTests {
    @Test(arguments: Command.Operation.allCases)
    func roundTrips(op: Command.Operation) throws {
        let command = Command(id: Fixture.id, seq: 1_700_000_000_123, op: op)
        let parsed = try WireMessage.parse(command.render(signedWith: Fixture.secret))
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(try Command(parsed) == command)
    }

    @Test func rejectsUnknownOperationsAndOtherKinds() throws {
        let reboot = try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "1"), .init("op", "reboot")])
        #expect(throws: WireError.self) { try Command(reboot) }
        let negative = try WireMessage(kind: .command, fields: [.init("id", Fixture.id), .init("seq", "-1"), .init("op", "stop")])
        #expect(throws: WireError.self) { try Command(negative) }
        #expect(throws: WireError.self) { try Command(Fixture.heartbeat(seq: 1).message) }
    }
}
