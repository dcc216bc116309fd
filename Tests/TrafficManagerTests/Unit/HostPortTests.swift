import Testing
@testable import TrafficManager

@Suite struct HostPortTests {
    @Test func parsesIPv4IPv6AndLocalhost() {
        #expect(HostPort(parsing: "127.0.0.1:8080") == HostPort(host: "127.0.0.1", port: 8080))
        #expect(HostPort(parsing: "[::1]:80") == HostPort(host: "::1", port: 80))
        #expect(HostPort(parsing: "localhost:0") == HostPort(host: "127.0.0.1", port: 0))
        #expect(HostPort(parsing: "[::1]:80")?.description == "[::1]:80")
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "example.com:80", "::1:80", "[::1]80", ":80"])
    func rejects(_ text: String) {
        #expect(HostPort(parsing: text) == nil)
    }

    @Test func loopback() {
        #expect(HostPort(host: "127.0.0.9", port: 1).isLoopback)
        #expect(HostPort(host: "::1", port: 1).isLoopback)
        #expect(!HostPort(host: "10.0.0.1", port: 1).isLoopback)
    }
}
