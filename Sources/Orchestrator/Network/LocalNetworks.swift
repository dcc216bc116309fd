import CVMProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The IPv4 networks this machine's interfaces are on (`getifaddrs`), loopback excluded, and
/// the check that the CVM subnet overlaps none of them — nor the ones a remote host reports.
public enum LocalNetworks {
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var subnet: IPv4Subnet
    }

    public static func current() -> [Interface] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var found: [Interface] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  let netmask = entry.pointee.ifa_netmask else { continue }
            let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let mask = netmask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            guard ip >> 24 != 127 else { continue }
            let length = mask.nonzeroBitCount
            found.append(Interface(name: String(cString: entry.pointee.ifa_name),
                                   subnet: IPv4Subnet(network: ip, prefixLength: length)))
        }
        return found
    }

    /// Parses `ip -4 -o addr show`: `2: eth0    inet 10.200.0.2/24 brd … scope global eth0`.
    /// Lines it does not understand are skipped; loopback too.
    public static func parse(ipAddrOutput text: String) -> [Interface] {
        text.split(separator: "\n").prefix(4096).compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 4, fields[2] == "inet" else { return nil }
            let parts = fields[3].split(separator: "/")
            guard parts.count == 2, let address = IPv4Subnet.parseAddress(String(parts[0])),
                  let length = Int(parts[1]), (0...32).contains(length), address >> 24 != 127 else { return nil }
            return Interface(name: String(fields[1].prefix(64)), subnet: IPv4Subnet(network: address, prefixLength: length))
        }
    }

    /// This machine's source address for packets to `address` (the routing table's choice,
    /// read from a connected UDP socket; nothing is sent), or nil when there is no route.
    public static func sourceAddress(toward address: String) -> String? {
        guard let target = IPv4Subnet.parseAddress(address) else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(9).bigEndian
        remote.sin_addr.s_addr = target.bigEndian
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return IPv4Subnet.format(UInt32(bigEndian: local.sin_addr.s_addr))
    }

    /// One line naming the interface in the way, or `nil` when `subnet` is clear of them all.
    /// `ownBridge` (the orchestrator's own CVM bridge, which carries the subnet) is skipped.
    public static func conflict(of subnet: IPv4Subnet, with interfaces: [Interface], where host: String,
                                ownBridge: String? = nil) -> String? {
        guard let clash = interfaces.first(where: { $0.name != ownBridge && $0.subnet.overlaps(subnet) }) else { return nil }
        return "the CVM subnet \(subnet) overlaps \(clash.subnet) on \(clash.name) of \(host); choose another with CVM_SUBNET"
    }
}
