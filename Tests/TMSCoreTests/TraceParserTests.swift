import Testing
@testable import TMSCore

@Suite struct TraceParserTests {
    @Test func parsesLinesWithOrWithoutHeader() throws {
        let withHeader = try TraceParser.parse("time,core,event,client\n0,0,open,a\n0.5,1,OPEN,b\r\n\n1.25, 0 ,close, a\n")
        let without = try TraceParser.parse("0,0,open,a\n0.5,1,open,b\n1.25,0,close,a")
        #expect(withHeader.map(\.client) == ["a", "b", "a"])
        #expect(withHeader.map(\.kind) == [.open, .open, .close])
        #expect(withHeader.map(\.time) == [.zero, .milliseconds(500), .milliseconds(1_250)])
        #expect(withHeader.map(\.line) == [2, 3, 5])
        #expect(without.map(\.line) == [1, 2, 3])
        #expect(try TraceParser.parse("").isEmpty)
        #expect(try TraceParser.parse("Time , Core, Event ,Client\n").isEmpty)
    }

    @Test(arguments: [
        ("0,0,open,a\n1,0,open", 2, "expected 4 fields time,core,event,client but found 3"),
        ("x,0,open,a", 1, "time 'x' is not a number of seconds (e.g. 12 or 0.250)"),
        ("-1,0,open,a", 1, "time '-1' is not a number of seconds (e.g. 12 or 0.250)"),
        ("0,zero,open,a", 1, "core 'zero' is not a core number (0, 1, ...)"),
        ("0,-2,open,a", 1, "core '-2' is not a core number (0, 1, ...)"),
        ("0,0,connect,a", 1, "event 'connect' is neither open nor close"),
        ("0,0,open,", 1, "client is empty"),
        ("2,0,open,a\n1,0,close,a", 2, "time 1 is earlier than the line before"),
        ("time,core,event,client\n\n0,0,open,a,b", 3, "expected 4 fields time,core,event,client but found 5"),
    ])
    func reportsTheLineAndTheProblem(text: String, line: Int, message: String) {
        #expect(throws: TraceError(line: line, message)) { try TraceParser.parse(text) }
    }

    @Test func errorDescribesItselfOnOneLine() {
        #expect(TraceError(line: 7, "client is empty").description == "line 7: client is empty")
    }
}
