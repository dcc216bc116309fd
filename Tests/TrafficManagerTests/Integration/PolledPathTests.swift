import Foundation
import Glibc
import Testing
import TMSCore
@testable import TrafficManager

/// What the raw-socket path (the cores' poll sets, below NIO) does beyond the relay and HTTP
/// tests it also runs under: connect timeouts, and a reload that changes which kind of socket
/// a vServer listens on.
extension ProxyTests {
    @Suite struct PolledPath {
        struct BlackHoleError: Error {}

        /// A loopback port whose SYNs go unanswered: a listener with a backlog of 0 that never
        /// accepts, already holding one connection (the kernel drops further SYNs).
        final class BlackHole {
            let port: Int
            private let listener: Int32
            private let filler: Int32

            init() throws {
                let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                self.listener = listener
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let bound = withUnsafeMutablePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                        bind(listener, raw, length) == 0 && listen(listener, 0) == 0 && getsockname(listener, raw, &length) == 0
                    }
                }
                guard bound else { throw BlackHoleError() }
                port = Int(UInt16(bigEndian: address.sin_port))
                let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                self.filler = filler
                let connected = withUnsafeMutablePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) == 0 }
                }
                guard connected else { throw BlackHoleError() }
            }

            deinit {
                close(filler)
                close(listener)
            }
        }

        @Test("TCP: a service that never answers the handshake is given up after the connect timeout; the next one serves")
        func tcpConnectTimeout() async throws {
            let hole = try BlackHole()
            let echo = try await TestBackend.start(.echo)
            let yaml = """
                admin: { enabled: false }
                vServers:
                  - name: tcp
                    bind: 127.0.0.1:0
                    connectTimeout: 300ms
                    services:
                      - { name: hole, address: 127.0.0.1, port: \(hole.port), capacity: 100 }
                      - { name: echo, address: 127.0.0.1, port: \(echo.port), capacity: 100 }
                """
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "tcp"))
                var slowest = Duration.zero
                for seed in 0..<4 {
                    let started = ContinuousClock.now
                    let data = payload(seed: UInt64(seed), count: 20_000)
                    #expect(try await TestConnection.echo(data, via: address) == data)
                    slowest = max(slowest, ContinuousClock.now - started)
                }
                #expect(echo.acceptedCount == 4)
                let failures = manager.vServer("tcp")?.usage.snapshot.connectFailures ?? 0
                #expect(failures >= 1, "the black hole was tried and given up")
                #expect(slowest >= .milliseconds(300), "the connect to it waited for the timeout")
                #expect(slowest < .seconds(10), "and not the system's connect timeout (the sweep runs every 100 ms)")
            }
        }

        @Test("HTTP per request: a service that never answers the handshake is given up after the connect timeout")
        func httpConnectTimeout() async throws {
            let hole = try BlackHole()
            let service = try await RecordingHTTPService.start("a")
            let yaml = PerRequest.yaml(services: [("hole", hole.port), ("a", service.port)],
                                       extra: "    connectTimeout: 300ms")
            try await withTrafficManager(yaml, cores: 1) { manager in
                let address = try #require(manager.listeningAddress(of: "web"))
                for i in 0..<4 {
                    // A new client each time: a client's first request gets a new service connection.
                    let client = try await HTTPClient(address)
                    let answer = try await PerRequest.exchange(client, "GET /r\(i) HTTP/1.1\r\nHost: web\r\n\r\n")
                    #expect(answer.status == 200)
                    #expect(answer.body.hasPrefix("a"), "\(answer.body)")
                    await client.connection.close()
                }
                #expect((manager.vServer("web")?.usage.snapshot.connectFailures ?? 0) >= 1)
            }
        }

        @Test("a reload that adds or removes a vServer's TLS on the same address switches its sockets (raw, channel, raw)")
        func reloadSwitchesSocketKind() async throws {
            let pki = try TestPKI()
            defer { pki.remove() }
            try pki.issue("server", ips: ["127.0.0.1"])
            try pki.issue("tm", ips: [])
            let echo = try await TestBackend.start(.echo)
            let port = freeLoopbackPort()
            func yaml(tls: Bool) -> String {
                """
                admin: { enabled: false }
                vServers:
                  - name: v
                    bind: 127.0.0.1:\(port)
                    \(tls ? "tls: \(pki.yaml("server"))" : "")
                    services: [{ name: echo, address: 127.0.0.1, port: \(echo.port), capacity: 100 }]
                  - name: front
                    bind: 127.0.0.1:0
                    services: [{ name: v, address: 127.0.0.1, port: \(port), capacity: 100, tls: \(pki.yaml("tm")) }]
                """
            }
            try await withTrafficManager(yaml(tls: false)) { manager in
                let direct = HostPort(host: "127.0.0.1", port: port)
                let data = payload(seed: 5, count: 100_000)
                #expect(try await TestConnection.echo(data, via: direct) == data, "plain, on raw sockets")

                _ = try await manager.reload(try TMSConfig.parse(yaml(tls: true), file: "test.yaml"))
                let front = try #require(manager.listeningAddress(of: "front"))
                #expect(try await TestConnection.echo(data, via: front) == data, "TLS, through the TLS hop")
                let plain = (try? await TestConnection.echo(Array("hello".utf8), via: direct)) ?? []
                #expect(plain != Array("hello".utf8), "a plaintext client of the TLS listener gets no echo (a TLS alert at most)")

                _ = try await manager.reload(try TMSConfig.parse(yaml(tls: false), file: "test.yaml"))
                #expect(try await TestConnection.echo(data, via: direct) == data, "plain again, on raw sockets")
            }
        }
    }
}
