import CVMProtocol
import Testing

@Suite struct HeartbeatVerifierTests {
    func line(_ heartbeat: Heartbeat, secret: [UInt8] = Fixture.secret) -> [UInt8] {
        heartbeat.render(signedWith: secret)
    }

    @Test func acceptsIncreasingSequenceAndFlagsTheFirstOfABoot() {
        var verifier = HeartbeatVerifier(id: Fixture.id, secret: Fixture.secret)
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 1))) == .accepted(Fixture.heartbeat(seq: 1), newBoot: true))
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 2))) == .accepted(Fixture.heartbeat(seq: 2), newBoot: false))
        // Gaps are fine (dropped heartbeats use up their seq).
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 9))) == .accepted(Fixture.heartbeat(seq: 9), newBoot: false))
        #expect(verifier.currentBoot == 0xdead_beef)
        #expect(verifier.lastSeq == 9)
    }

    @Test func rejectsReplayWithinABoot() {
        var verifier = HeartbeatVerifier(id: Fixture.id, secret: Fixture.secret)
        _ = verifier.check(line: line(Fixture.heartbeat(seq: 5)))
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 5)))
            == .rejected(.replay(boot: 0xdead_beef, seq: 5, lastSeq: 5)))
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 4)))
            == .rejected(.replay(boot: 0xdead_beef, seq: 4, lastSeq: 5)))
        #expect(verifier.lastSeq == 5)
    }

    @Test func aNewBootRestartsTheSequenceAndRetiresTheOldBoot() {
        var verifier = HeartbeatVerifier(id: Fixture.id, secret: Fixture.secret)
        _ = verifier.check(line: line(Fixture.heartbeat(seq: 50, boot: 1)))
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 1, boot: 2)))
            == .accepted(Fixture.heartbeat(seq: 1, boot: 2), newBoot: true))
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 51, boot: 1))) == .rejected(.retiredBoot(1)))
        #expect(verifier.retiredBoots == [1])
        #expect(verifier.currentBoot == 2)
    }

    @Test func keepsOnlyTheLastRetiredBoots() {
        var verifier = HeartbeatVerifier(id: Fixture.id, secret: Fixture.secret)
        for boot in UInt64(1)...UInt64(HeartbeatVerifier.retiredBootLimit + 2) {
            _ = verifier.check(line: line(Fixture.heartbeat(seq: 1, boot: boot)))
        }
        #expect(verifier.retiredBoots.count == HeartbeatVerifier.retiredBootLimit)
        #expect(verifier.retiredBoots.first == 2)
    }

    @Test func rejectsBadMACWrongIDOtherKindsAndGarbageWithoutChangingState() {
        var verifier = HeartbeatVerifier(id: Fixture.id, secret: Fixture.secret)
        _ = verifier.check(line: line(Fixture.heartbeat(seq: 3)))

        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 4), secret: Fixture.otherSecret)) == .rejected(.badMAC))
        let stranger = "11111111-2222-3333-4444-555555555555"
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 4, id: stranger))) == .rejected(.wrongID(stranger)))
        let bye = Goodbye(id: Fixture.id, boot: 0xdead_beef, seq: 4, reason: "stop").render(signedWith: Fixture.secret)
        #expect(verifier.check(line: bye) == .rejected(.notHeartbeat(.goodbye)))
        guard case .rejected(.malformed(let error)) = verifier.check(line: Array("hello\n".utf8)) else {
            Issue.record("garbage was not reported as malformed")
            return
        }
        #expect(error.code == .missingMAC)
        // A correctly signed HB with a missing field is malformed, not accepted.
        var fields = Fixture.heartbeat(seq: 4).message.fields
        fields.removeLast()
        let incomplete = try! WireMessage(kind: .heartbeat, fields: fields).render(signedWith: Fixture.secret)
        #expect(verifier.check(line: incomplete)
            == .rejected(.malformed(WireError(.missingField, key: "role", "HB needs role"))))

        #expect(verifier.lastSeq == 3)
        #expect(verifier.check(line: line(Fixture.heartbeat(seq: 4))) == .accepted(Fixture.heartbeat(seq: 4), newBoot: false))
    }

    @Test func idComparisonIgnoresCase() {
        var verifier = HeartbeatVerifier(id: Fixture.id.uppercased(), secret: Fixture.secret)
        guard case .accepted = verifier.check(line: line(Fixture.heartbeat(seq: 1))) else {
            Issue.record("upper-case configured id did not match")
            return
        }
        #expect(!verifier.description.contains(Hex.encode(Fixture.secret)))
    }
}
