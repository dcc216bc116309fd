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

    /// One line naming the interface in the way, or `nil` when `subnet` is clear of them all.
    /// `ownBridge` (the orchestrator's own CVM bridge, which carries the subnet) is skipped.
    public static func conflict(of subnet: IPv4Subnet, with interfaces: [Interface], where host: String,
                                ownBridge: String? = nil) -> String? {
        guard let clash = interfaces.first(where: { $0.name != ownBridge && $0.subnet.overlaps(subnet) }) else { return nil }
        return "the CVM subnet \(subnet) overlaps \(clash.subnet) on \(clash.name) of \(host); choose another with CVM_SUBNET"
    }
}
