import CVMProtocol

/// The libvirt network every host gets for its CVMs: `<forward mode='bridge'/>` over a Linux
/// bridge the orchestrator makes itself (`cvmnet0`; no NAT, no route anywhere, no DHCP, no
/// DNS). Measured on this Debian 12 / libvirt 9.0: an isolated network (no forward, with or
/// without `<ip>`) does not start without `/usr/sbin/iptables` (libvirt inserts DHCP/DNS
/// accept rules even with neither); a bridge-mode network over an existing bridge starts and
/// needs no firewall binary. So the bridge, and on the traffic manager's machine the
/// segment's first address on it, are the orchestrator's to create (not done yet).
public struct CVMNetworkDefinition: Sendable, Equatable {
    public static let networkName = "cvmctl-cvm"
    public static let bridgeName = "cvmnet0"

    public var subnet: IPv4Subnet
    /// Whether this host carries the traffic manager's address on the segment (on the bridge,
    /// set by the orchestrator, not by libvirt).
    public var carriesGateway: Bool

    public init(subnet: IPv4Subnet, carriesGateway: Bool) {
        self.subnet = subnet
        self.carriesGateway = carriesGateway
    }

    public var xml: String {
        """
        <network>
          <name>\(Self.networkName)</name>
          <forward mode='bridge'/>
          <bridge name='\(Self.bridgeName)'/>
        </network>

        """
    }
}
