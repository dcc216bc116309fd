import CVMProtocol
import Testing

@Suite struct GoodbyeTests {
    @Test func roundTripsIncludingEscapedReason() throws {
        let bye = Goodbye(id: Fixture.id, boot: 1, seq: 12, reason: "stop requested = yes")
        let parsed = try WireMessage.parse(bye.render(signedWith: Fixture.secret))
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(try Goodbye(parsed) == bye)
    }

    @Test func refusesOtherKinds() {
        #expect(throws: WireError.self) { try Goodbye(Fixture.heartbeat(seq: 1).message) }
    }
}
