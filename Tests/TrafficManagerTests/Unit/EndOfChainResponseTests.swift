import Testing
@testable import TrafficManager

@Suite struct EndOfChainResponseTests {
    @Test func heads() {
        let redirect = EndOfChainResponse.redirect(location: "https://sorry.example/").head
        #expect(redirect.status.code == 302)
        #expect(redirect.headers["Location"] == ["https://sorry.example/"])
        #expect(redirect.headers["Connection"] == ["close"])
        #expect(redirect.headers["Content-Length"] == ["0"])
        let unavailable = EndOfChainResponse.unavailable.head
        #expect(unavailable.status.code == 503)
        #expect(unavailable.headers["Location"].isEmpty)
    }
}
