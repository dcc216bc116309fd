import CVMProtocol
import Testing

@Suite struct AcknowledgementTests {
    @Test func roundTrips() throws {
        let ack = Acknowledgement(id: Fixture.id, boot: 0x0123_4567_89ab_cdef, seq: 77, op: .stop)
        let line = ack.render(signedWith: Fixture.secret)
        #expect(line.text.hasPrefix("CVM1 ACK id=\(Fixture.id) boot=0123456789abcdef seq=77 op=stop mac="))
        let parsed = try WireMessage.parse(line)
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(try Acknowledgement(parsed) == ack)
    }

    @Test(arguments: ProbeResult.allCases)
    func aProbesAcknowledgementCarriesItsResult(result: ProbeResult) throws {
        let ack = Acknowledgement(id: Fixture.id, boot: 1, seq: 5, op: .probe, result: result)
        let parsed = try WireMessage.parse(ack.render(signedWith: Fixture.secret))
        #expect(parsed["result"] == result.rawValue)
        #expect(try Acknowledgement(parsed) == ack)
    }

    @Test func aProbesAcknowledgementNeedsAKnownResult() throws {
        func ack(_ extra: [WireMessage.Field]) throws -> WireMessage {
            try WireMessage(kind: .acknowledgement, fields: [.init("id", Fixture.id), .init("boot", "0000000000000001"),
                                                             .init("seq", "1"), .init("op", "probe")] + extra)
        }
        #expect(throws: WireError.self) { try Acknowledgement(ack([])) }
        #expect(throws: WireError.self) { try Acknowledgement(ack([.init("result", "wide-open")])) }
        #expect(Acknowledgement(id: Fixture.id, boot: 1, seq: 1, op: .stop, result: .open).result == nil)
    }

    @Test func refusesOtherKindsAndMissingFields() throws {
        #expect(throws: WireError.self) { try Acknowledgement(Command(id: Fixture.id, seq: 1, op: .ping).message) }
        let noOp = try WireMessage(kind: .acknowledgement, fields: [.init("id", Fixture.id), .init("boot", "0000000000000001"), .init("seq", "1")])
        #expect(throws: WireError(.missingField, key: "op", "ACK needs op")) { try Acknowledgement(noOp) }
    }
}
