import Testing
@testable import TrafficManager

@Suite struct HTTPStatusLineTests {
    @Test func parses() {
        #expect(HTTPStatusLine.parse(Array("HTTP/1.1 204 No Content\r\nX: y\r\n".utf8)) == .status(204))
        #expect(HTTPStatusLine.parse(Array("HTTP/1.0 503\n".utf8)) == .status(503))
        #expect(HTTPStatusLine.parse(Array("HTTP/1.1 200 O".utf8)) == .incomplete)
        #expect(HTTPStatusLine.parse(Array("SSH-2.0-OpenSSH\r\n".utf8)) == .invalid)
        #expect(HTTPStatusLine.parse(Array("HTTP/1.1 2000 X\r\n".utf8)) == .invalid)
        #expect(HTTPStatusLine.parse([UInt8](repeating: 65, count: 2000)) == .invalid)
    }
}
