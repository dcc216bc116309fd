import CVMProtocol
import Testing

@Suite struct PercentEncodingTests {
    @Test func escapesTheSeparatorsAndControlBytes() {
        #expect(PercentEncoding.encode("a b=c\nd%e\rf\u{7f}") == "a%20b%3Dc%0Ad%25e%0Df%7F")
        #expect(PercentEncoding.encode("plain-text_1.2:ü") == "plain-text_1.2:ü")
    }

    @Test(arguments: ["", "a b", "100%", "x=y=z", "line1\nline2", "tab\there", "ünïcödé ✓"])
    func roundTrips(value: String) {
        let encoded = PercentEncoding.encode(value)
        #expect(!encoded.contains(" ") && !encoded.contains("=") && !encoded.contains("\n"))
        #expect(PercentEncoding.decode(Array(encoded.utf8)) == value)
    }

    @Test func decodesEitherHexCase() {
        #expect(PercentEncoding.decode(Array("%3d%3D".utf8)) == "==")
    }

    @Test(arguments: ["%", "%2", "%zz", "abc%4"])
    func rejectsBrokenEscapes(encoded: String) {
        #expect(PercentEncoding.decode(Array(encoded.utf8)) == nil)
    }
}
