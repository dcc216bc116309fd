import NIOCore
import Testing
@testable import TrafficManager

/// The hand-written IPv4 text must be exactly what `inet_ntop` writes (NIO's `ipAddress`):
/// it goes into X-Forwarded-For, stickiness keys and the access log.
@Suite struct SocketAddressTextTests {
    @Test(arguments: ["0.0.0.0", "255.255.255.255", "127.0.0.1", "10.0.100.9", "192.168.1.20", "1.22.103.255", "100.10.0.99"])
    func ipv4AsInetNtop(_ ip: String) throws {
        let address = try SocketAddress(ipAddress: ip, port: 443)
        #expect(address.ipText == ip)
        #expect(address.ipText == address.ipAddress)
        #expect(address.accessLogText == "\(ip):443")
    }

    @Test func everyOctetValue() throws {
        for octet in 0...255 {
            let address = try SocketAddress(ipAddress: "\(octet).\(255 - octet).\(octet / 2).9", port: 1)
            #expect(address.ipText == address.ipAddress)
        }
    }

    @Test func ipv6InBrackets() throws {
        let address = try SocketAddress(ipAddress: "2001:db8::1", port: 40000)
        #expect(address.ipText == "2001:db8::1")
        #expect(address.accessLogText == "[2001:db8::1]:40000")
    }
}
