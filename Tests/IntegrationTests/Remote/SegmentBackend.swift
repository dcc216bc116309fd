import CVMProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// `int setns(int fd, int nstype)` (<sched.h>, _GNU_SOURCE): not in Swift's Glibc module.
@_silgen_name("setns")
private func setns(_ fd: Int32, _ type: Int32) -> Int32

/// An HTTP backend on the CVM segment, as the backends a backup CVM forwards to would be: a
/// network namespace of the test's own (`cvmbk`), veth'd into the hub's bridge `cvmnet0` at
/// 10.77.0.250/24, and a listening socket made inside it (on a thread moved there with
/// setns), served by this process. Each response names the peer that connected and carries
/// the sha256 of its body in `X-Body-SHA256`, so a client can check it came through intact
/// and from where.
final class SegmentBackend: @unchecked Sendable {
    static let namespace = "cvmbk"
    let namespace: String
    let address: String
    let port = 9000
    private let listener: Int32

    /// Another backend: `SegmentBackend(namespace: "cvmbk2", address: "10.77.0.251")`.
    init(namespace: String = SegmentBackend.namespace, address: String = "10.77.0.250") throws {
        self.namespace = namespace
        self.address = address
        let ns = namespace, bindAddress = address
        _ = try CVMNetworkTests.sh("ip netns del \(ns) 2>/dev/null; ip link del \(ns)-h 2>/dev/null; true")
        let made = try CVMNetworkTests.sh("""
            set -e
            ip netns add \(ns)
            ip link add \(ns)-h type veth peer name eth0 netns \(ns)
            ip link set \(ns)-h mtu 1450 master cvmnet0 up
            ip netns exec \(ns) ip link set lo up
            ip netns exec \(ns) ip link set eth0 mtu 1450 up
            ip netns exec \(ns) ip addr add \(address)/24 dev eth0
            """)
        guard made.status == 0 else { throw BackendError.setup(made.output) }
        final class Outcome: @unchecked Sendable { var fd: Int32 = -1; var problem = "" }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { done.signal() }
            // setns moves only this thread; the socket stays in the namespace it was made in.
            let original = open("/proc/thread-self/ns/net", O_RDONLY)
            let target = open("/var/run/netns/\(ns)", O_RDONLY)
            defer { close(original); close(target) }
            guard setns(target, 0x4000_0000) == 0 else { outcome.problem = "setns: errno \(errno)"; return }
            defer { _ = setns(original, 0x4000_0000) }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(9000).bigEndian
            addr.sin_addr.s_addr = inet_addr(bindAddress)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard bound == 0, listen(fd, 128) == 0 else { outcome.problem = "bind/listen: errno \(errno)"; close(fd); return }
            outcome.fd = fd
        }
        done.wait()
        let listening = outcome.fd
        let problem = outcome.problem
        guard listening >= 0 else { throw BackendError.setup(problem) }
        listener = listening
        let fd = listening
        Thread.detachNewThread { Self.acceptLoop(fd) }
    }

    enum BackendError: Error { case setup(String) }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        _ = try? CVMNetworkTests.sh("ip netns del \(namespace) 2>/dev/null; ip link del \(namespace)-h 2>/dev/null; true")
    }

    /// Takes the backend off the segment (its link down: connections time out) or back on.
    func setReachable(_ reachable: Bool) throws {
        _ = try CVMNetworkTests.sh("ip netns exec \(namespace) ip link set eth0 \(reachable ? "up" : "down")")
    }

    private static func acceptLoop(_ fd: Int32) {
        while true {
            var peer = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let client = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &length) } }
            guard client >= 0 else { return }
            let address = String(cString: inet_ntoa(peer.sin_addr))
            Thread.detachNewThread { serve(client, peer: address) }
        }
    }

    /// Answers requests on one keep-alive connection until the client closes it.
    private static func serve(_ fd: Int32, peer: String) {
        defer { close(fd) }
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16_384)
        var counter = 0
        while true {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { return }
            pending += buffer[0..<n]
            while let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                pending.removeSubrange(0..<end.upperBound)
                counter += 1
                let body = "peer=\(peer) n=\(counter)\n" + String(repeating: "0123456789abcdef", count: 64)
                let digest = Hex.encode(SHA256.hash(Array(body.utf8)))
                let response = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nX-Body-SHA256: \(digest)\r\n\r\n\(body)"
                let bytes = Array(response.utf8)
                var sent = 0
                while sent < bytes.count {
                    let w = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    guard w > 0 else { return }
                    sent += w
                }
            }
        }
    }
}
