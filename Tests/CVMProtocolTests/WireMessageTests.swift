import CVMProtocol
import Testing

@Suite struct WireMessageTests {
    /// The MACs below were computed independently with Python's hmac module.
    @Test func rendersTheExactWireFormat() throws {
        let command = Command(id: Fixture.id, seq: 7, op: .stop)
        #expect(command.render(signedWith: Fixture.secret).text
            == "CVM1 CMD id=\(Fixture.id) seq=7 op=stop "
            + "mac=2ca00eca21e79f0b5cd07886a818aff51df13c7bddd22cf22789811ed6ffaf12\n")

        let bye = Goodbye(id: Fixture.id, boot: 0xdead_beef, seq: 9, reason: "a b=c\n%")
        #expect(bye.render(signedWith: Fixture.secret).text
            == "CVM1 BYE id=\(Fixture.id) boot=00000000deadbeef seq=9 reason=a%20b%3Dc%0A%25 "
            + "mac=9f7c28b2260fa917e04fd4b09fe6e76fabb7d78e1308f1523ddd3d76ce894da8\n")
    }

    @Test func parsesWhatItRendersAndVerifies() throws {
        let message = try WireMessage(kind: .heartbeat, fields: [.init("id", "x y"), .init("n", "")])
        let line = message.render(signedWith: Fixture.secret)
        let parsed = try WireMessage.parse(line)
        #expect(parsed.kind == .heartbeat)
        #expect(parsed.fields == message.fields)
        #expect(parsed["id"] == "x y")
        #expect(parsed["missing"] == nil)
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(!parsed.verify(secret: Fixture.otherSecret))
        // Without the newline too.
        #expect(try WireMessage.parse(line.dropLast()).verify(secret: Fixture.secret))
    }

    @Test func anyTamperedByteFailsVerification() throws {
        let line = Fixture.heartbeat(seq: 5).render(signedWith: Fixture.secret)
        let macStart = line.count - 1 - 64
        for index in stride(from: 0, to: line.count - 1, by: 7) {
            var tampered = line
            tampered[index] = tampered[index] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            guard let parsed = try? WireMessage.parse(tampered) else { continue }
            #expect(!parsed.verify(secret: Fixture.secret), "byte \(index) (mac starts at \(macStart))")
        }
    }

    @Test func messagesBuiltInCodeDoNotVerify() throws {
        let message = try WireMessage(kind: .command, fields: [.init("op", "ping")])
        #expect(!message.verify(secret: Fixture.secret))
    }

    @Test func rejectsInvalidKeysWhenBuilding() {
        #expect(throws: WireError.self) { try WireMessage(kind: .heartbeat, fields: [.init("mac", "x")]) }
        #expect(throws: WireError.self) { try WireMessage(kind: .heartbeat, fields: [.init("a b", "x")]) }
        #expect(throws: WireError.self) { try WireMessage(kind: .heartbeat, fields: [.init("", "x")]) }
        #expect(throws: WireError.self) {
            try WireMessage(kind: .heartbeat, fields: [.init("a", "1"), .init("a", "2")])
        }
    }

    static let mac = String(repeating: "ab", count: 32)

    @Test(arguments: [
        ("CVM1 HB a=1", WireError.Code.missingMAC),
        ("CVM1 HB a=1 mac=abc", .missingMAC),
        ("CVM1 HB a=1 mac=\(mac) b=2", .missingMAC),
        ("CVM2 HB a=1 mac=\(mac)", .badMagic),
        ("CVM1 mac=\(mac)", .badMagic),
        ("CVM1 XX a=1 mac=\(mac)", .unknownKind),
        ("CVM1 HB a=1  b=2 mac=\(mac)", .malformedField),
        ("CVM1 HB a mac=\(mac)", .malformedField),
        ("CVM1 HB a-b=1 mac=\(mac)", .malformedField),
        ("CVM1 HB a=1=2 mac=\(mac)", .badEscape),
        ("CVM1 HB a=%4 mac=\(mac)", .badEscape),
        ("CVM1 HB a=1 a=2 mac=\(mac)", .duplicateKey),
    ])
    func rejectsMalformedLines(line: String, code: WireError.Code) {
        do {
            _ = try WireMessage.parse(line)
            Issue.record("parsed \(line)")
        } catch let error as WireError {
            #expect(error.code == code, "\(line): \(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func parsesAMessageWithNoFields() throws {
        let line = try WireMessage(kind: .goodbye, fields: []).render(signedWith: Fixture.secret)
        #expect(line.text.hasPrefix("CVM1 BYE mac="))
        let parsed = try WireMessage.parse(line)
        #expect(parsed.fields.isEmpty)
        #expect(parsed.verify(secret: Fixture.secret))
    }
}
