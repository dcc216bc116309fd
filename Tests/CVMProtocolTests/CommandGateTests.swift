import CVMProtocol
import Testing

@Suite struct CommandGateTests {
    func line(_ op: Command.Operation, seq: UInt64, id: String = Fixture.id, secret: [UInt8] = Fixture.secret) -> [UInt8] {
        Command(id: id, seq: seq, op: op).render(signedWith: secret)
    }

    @Test func executesNewCommandsAndReacknowledgesRetries() {
        var gate = CommandGate(id: Fixture.id, secret: Fixture.secret)
        let ping = Command(id: Fixture.id, seq: 10, op: .ping)
        #expect(gate.admit(line: line(.ping, seq: 10)) == .execute(ping))
        #expect(gate.admit(line: line(.ping, seq: 10)) == .reacknowledge(ping))
        #expect(gate.admit(line: line(.stop, seq: 11)) == .execute(Command(id: Fixture.id, seq: 11, op: .stop)))
        #expect(gate.lastSeq == 11)
        #expect(gate.rejectedCount == 0)
    }

    @Test func rejectsAndCountsEverythingElse() {
        var gate = CommandGate(id: Fixture.id, secret: Fixture.secret)
        _ = gate.admit(line: line(.ping, seq: 10))
        #expect(gate.admit(line: line(.stop, seq: 9)) == .reject(.stale(seq: 9, lastSeq: 10)))
        #expect(gate.admit(line: line(.stop, seq: 11, secret: Fixture.otherSecret)) == .reject(.badMAC))
        let stranger = "11111111-2222-3333-4444-555555555555"
        #expect(gate.admit(line: line(.stop, seq: 11, id: stranger)) == .reject(.wrongID(stranger)))
        #expect(gate.admit(line: Fixture.heartbeat(seq: 1).render(signedWith: Fixture.secret)) == .reject(.notCommand(.heartbeat)))
        guard case .reject(.malformed) = gate.admit(line: Array("CVM1 CMD op=stop".utf8)) else {
            Issue.record("malformed line not rejected as malformed")
            return
        }
        #expect(gate.rejectedCount == 5)
        #expect(gate.lastSeq == 10)
        #expect(!gate.description.contains(Hex.encode(Fixture.secret)))
    }
}
