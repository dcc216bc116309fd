import CVMProtocol
/// The libvirt network every host gets for its CVMs: a bridge with no forward mode (no NAT,
/// no route anywhere), no DHCP and no DNS. On the machine running the traffic manager the
/// bridge holds the segment's first address; on cloud hosts it holds none (they are joined
/// to it by VXLAN, layer 2 only).
public struct CVMNetworkDefinition: Sendable, Equatable {
    public static let networkName = "cvmctl-cvm"
    public static let bridgeName = "cvmnet0"

    public var subnet: IPv4Subnet
    /// Whether this host carries the traffic manager's address on the segment.
    public var carriesGateway: Bool

    public init(subnet: IPv4Subnet, carriesGateway: Bool) {
        self.subnet = subnet
        self.carriesGateway = carriesGateway
    }

    public var xml: String {
        var lines = ["<network>",
                     "  <name>\(Self.networkName)</name>",
                     "  <bridge name='\(Self.bridgeName)' stp='off' delay='0'/>"]
        if carriesGateway {
            lines.append("  <dns enable='no'/>")
            lines.append("  <ip address='\(IPv4Subnet.format(subnet.gateway))' prefix='\(subnet.prefixLength)'/>")
        }
        lines.append("</network>")
        return lines.joined(separator: "\n") + "\n"
    }
}
