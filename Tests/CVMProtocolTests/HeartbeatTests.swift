import CVMProtocol
import Testing

@Suite struct HeartbeatTests {
    @Test func roundTripsThroughTheWire() throws {
        let heartbeat = Fixture.heartbeat(seq: 42)
        let parsed = try WireMessage.parse(heartbeat.render(signedWith: Fixture.secret))
        #expect(parsed.verify(secret: Fixture.secret))
        #expect(try Heartbeat(parsed) == heartbeat)
    }

    @Test func aDataPlanesReportRidesAlongAndIsParsedStrictly() throws {
        var heartbeat = Fixture.heartbeat(seq: 7)
        heartbeat.service = ServiceReport(serving: true, active: 3, opened: 40, bytes: 123_456, spills: 2)
        let message = try WireMessage.parse(heartbeat.render(signedWith: Fixture.secret))
        #expect(message.fields.map(\.key).suffix(5) == ["serving", "active", "opened", "servedBytes", "spills"])
        #expect(try Heartbeat(message) == heartbeat)
        #expect(try Heartbeat(WireMessage.parse(Fixture.heartbeat(seq: 8).render(signedWith: Fixture.secret))).service == nil)
        // The configuration's digest rides along when known.
        heartbeat.service?.config = ServiceReport.configDigest(of: "cores: 1\n")
        let withDigest = try WireMessage.parse(heartbeat.render(signedWith: Fixture.secret))
        #expect(withDigest.fields.last?.key == "config")
        #expect(try Heartbeat(withDigest) == heartbeat)
        #expect(ServiceReport.configDigest(of: "a") != ServiceReport.configDigest(of: "b"))
        // serving without the rest, or not 0/1: refused.
        var fields = Fixture.heartbeat(seq: 9).message.fields
        fields.append(.init("serving", "1"))
        #expect(throws: WireError.self) { try Heartbeat(WireMessage(kind: .heartbeat, fields: fields)) }
        fields[fields.count - 1] = .init("serving", "yes")
        #expect(throws: WireError.self) { try Heartbeat(WireMessage(kind: .heartbeat, fields: fields)) }
    }

    /// A refusal rides along with its reason; whatever the guest wrote, the reason arrives as
    /// one printable line of at most 240 bytes.
    @Test func aRefusalAndItsReasonRideAlongBounded() throws {
        var heartbeat = Fixture.heartbeat(seq: 7)
        heartbeat.service = ServiceReport(serving: false, rejected: 42, rejectReason: "loopback service\n")
        let message = try WireMessage.parse(heartbeat.render(signedWith: Fixture.secret))
        #expect(message.fields.map(\.key).suffix(2) == ["rejected", "rejectReason"])
        let read = try #require(try Heartbeat(message).service)
        #expect(read.rejected == 42 && read.rejectReason == "loopback service")
        // A hostile reason on the wire: control characters, and far too long.
        var fields = message.fields.dropLast()
        fields.append(.init("rejectReason", "\u{07}a\u{1B}b" + String(repeating: "é", count: 1000)))
        let hostile = try #require(try Heartbeat(WireMessage(kind: .heartbeat, fields: Array(fields))).service)
        #expect(hostile.rejectReason.hasPrefix("a b") && hostile.rejectReason.utf8.count <= ServiceReport.maxReasonBytes)
        #expect(!hostile.rejectReason.unicodeScalars.contains { $0.value < 0x20 })
        #expect(ServiceReport(statusLine: "serving=0 rejected=7\n")?.rejected == 7)
        // No refusal, no reason.
        #expect(ServiceReport(serving: true, rejectReason: "ignored").rejectReason == "")
    }

    @Test(arguments: [
        ("serving=1 connections=3 opened=40 bytes=99 spills=2\n", ServiceReport(serving: true, active: 3, opened: 40, bytes: 99, spills: 2)),
        ("serving=0\n", ServiceReport(serving: false)),
        ("serving=1 connections=1 opened=1 bytes=1 spills=0 config=42\n", ServiceReport(serving: true, active: 1, opened: 1, bytes: 1, spills: 0, config: 42)),
        ("serving=1 connections=x future=7\n", ServiceReport(serving: true)),
    ])
    func theDataPlanesStatusLineIsRead(line: String, expected: ServiceReport) {
        #expect(ServiceReport(statusLine: line) == expected)
    }

    @Test func aStatusLineWithoutServingIsNone() {
        for line in ["", "connections=3", "serving=2", "serving=99999999999999999999999", String(repeating: "x", count: 100_000)] {
            #expect(ServiceReport(statusLine: line) == nil)
        }
    }

    @Test func rendersFieldsInTheDocumentedOrder() {
        let keys = Fixture.heartbeat(seq: 1).message.fields.map(\.key)
        #expect(keys == ["id", "boot", "seq", "uptimeMs", "status", "task", "cpuPercent", "memUsedKiB",
                         "memTotalKiB", "diskReadBytes", "diskWriteBytes", "netRxBytes", "netTxBytes",
                         "connections", "badCommands", "role"])
        #expect(Fixture.heartbeat(seq: 1).message["boot"] == "00000000deadbeef")
    }

    @Test(arguments: [(12.34, "12.3"), (12.35, "12.4"), (0, "0.0"), (100, "100.0"), (-3, "0.0"), (.nan, "0.0"),
                      (1e300, "1000000.0")])
    func cpuPercentHasOneDecimal(value: Double, text: String) {
        var heartbeat = Fixture.heartbeat(seq: 1)
        heartbeat = Heartbeat(id: heartbeat.id, boot: 1, seq: 1, uptimeMs: 1, status: .ok, task: "t",
                              cpuPercent: value, memUsedKiB: 0, memTotalKiB: 0, diskReadBytes: 0,
                              diskWriteBytes: 0, netRxBytes: 0, netTxBytes: 0, connections: 0)
        #expect(heartbeat.message["cpuPercent"] == text)
    }

    @Test func namesTheMissingOrInvalidField() throws {
        var fields = Fixture.heartbeat(seq: 1).message.fields
        fields.removeAll { $0.key == "memTotalKiB" }
        #expect(throws: WireError(.missingField, key: "memTotalKiB", "HB needs memTotalKiB")) {
            try Heartbeat(WireMessage(kind: .heartbeat, fields: fields))
        }

        let replaced = Fixture.heartbeat(seq: 1).message.fields.map {
            $0.key == "status" ? WireMessage.Field("status", "sleepy") : $0
        }
        do {
            _ = try Heartbeat(WireMessage(kind: .heartbeat, fields: replaced))
            Issue.record("accepted an invalid status")
        } catch let error as WireError {
            #expect(error.code == .invalidField && error.key == "status")
        }

        let badBoot = Fixture.heartbeat(seq: 1).message.fields.map {
            $0.key == "boot" ? WireMessage.Field("boot", "123") : $0
        }
        #expect(throws: WireError.self) { try Heartbeat(WireMessage(kind: .heartbeat, fields: badBoot)) }
    }

    @Test(arguments: [("seq", "+5"), ("seq", "5 "), ("seq", ""), ("boot", "+00000000000000f"), ("boot", "000000000000000g"),
                      ("cpuPercent", "-1"), ("cpuPercent", "inf")])
    func rejectsSloppyNumbers(key: String, value: String) {
        let fields = Fixture.heartbeat(seq: 1).message.fields.map { $0.key == key ? WireMessage.Field(key, value) : $0 }
        do {
            _ = try Heartbeat(WireMessage(kind: .heartbeat, fields: fields))
            Issue.record("accepted \(key)=\(value)")
        } catch let error as WireError {
            #expect(error.code == .invalidField && error.key == key)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func refusesOtherKinds() throws {
        let message = Command(id: Fixture.id, seq: 1, op: .ping).message
        #expect(throws: WireError.self) { try Heartbeat(message) }
    }
}
