import CVMProtocol
import Glibc

/// Runs a ``ProbeTarget`` for `cvmctl probe`: a host route to the target (on the link, or
/// through the segment's gateway) is added for the length of the attempt, as a hostile guest
/// could add it, then a non-blocking TCP connect waits at most `timeoutMs`. The agent is
/// single-threaded: the wait delays at most one heartbeat, well inside the monitor's three
/// intervals.
enum Probe {
    // <linux/sockios.h>, <net/route.h>
    private static let addRoute: UInt = 0x890B
    private static let deleteRoute: UInt = 0x890C
    private static let routeUp: UInt16 = 0x1, routeGateway: UInt16 = 0x2, routeHost: UInt16 = 0x4

    static func run(_ target: ProbeTarget, network: AgentConfig.Network?, interface: String?, timeoutMs: Int32 = 1500) -> ProbeResult {
        guard let network, let interface else { return .unreachable }
        let gateway = network.subnet.gateway
        let added = route(addRoute, to: target.address, via: target.route == .gateway ? gateway : nil, interface: interface)
        // EEXIST: a route is there already (the target is the gateway itself, say): keep it.
        defer { if added == 0 { _ = route(deleteRoute, to: target.address, via: target.route == .gateway ? gateway : nil, interface: interface) } }
        if added != 0 && added != EEXIST { return .error }
        return connect(to: target, timeoutMs: timeoutMs)
    }

    static func connect(to target: ProbeTarget, timeoutMs: Int32) -> ProbeResult {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .error }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = target.port.bigEndian
        address.sin_addr.s_addr = target.address.bigEndian
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if started == 0 { return .open }
        guard errno == EINPROGRESS else { return classify(errno) }
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = poll(&entry, 1, timeoutMs)
        guard ready > 0 else { return ready == 0 ? .timeout : .error }
        var problem: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &length) == 0 else { return .error }
        return problem == 0 ? .open : classify(problem)
    }

    private static func classify(_ code: Int32) -> ProbeResult {
        switch code {
        case ECONNREFUSED: return .refused
        case ETIMEDOUT: return .timeout
        case ENETUNREACH, EHOSTUNREACH: return .unreachable
        default: return .error
        }
    }

    /// SIOCADDRT/SIOCDELRT of a /32 route. `struct rtentry` on x86_64 (120 bytes): rt_dst at
    /// 8, rt_gateway at 24, rt_genmask at 40 (each a 16-byte sockaddr), rt_flags at 56,
    /// rt_dev (a C string pointer) at 88. Returns 0 or the errno.
    private static func route(_ request: UInt, to address: UInt32, via gateway: UInt32?, interface: String) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var entry = [UInt8](repeating: 0, count: 120)
        var device = Array(interface.utf8.prefix(15)) + [0]
        return device.withUnsafeMutableBytes { name in
            entry.withUnsafeMutableBytes { raw in
                func put(_ value: UInt32, at offset: Int) {
                    raw.storeBytes(of: UInt16(AF_INET), toByteOffset: offset, as: UInt16.self)
                    raw.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: UInt32.self)
                }
                put(address, at: 8)
                put(gateway ?? 0, at: 24)
                put(0xffff_ffff, at: 40)
                raw.storeBytes(of: routeUp | routeHost | (gateway == nil ? 0 : routeGateway), toByteOffset: 56, as: UInt16.self)
                raw.storeBytes(of: UInt(bitPattern: name.baseAddress), toByteOffset: 88, as: UInt.self)
                return Syscalls.ioctl(fd, request, raw.baseAddress!)
            }
        }
    }
}
