import CVMProtocol

/// What one host needs for the CVM segment: the Linux bridge `cvmnet0`, the VXLAN tunnels
/// that join it to the other hosts' bridges, the firewall that keeps guests on the segment,
/// and the libvirt network `cvmctl-cvm` over the bridge that CVMs' NICs name.
///
/// Topology: hub and spokes. The traffic manager's machine (the `local` host) is the hub: it
/// carries the segment's first address on its bridge and one tunnel per cloud host; each
/// cloud host has one tunnel, to the hub. Each tunnel has its own VNI (Linux refuses two
/// VXLAN devices with one VNI on one UDP port), derived from the cloud host's address (one
/// machine registered under two names must not get two parallel tunnels: a loop). The hub's
/// bridge forwards between tunnels, so CVMs on two cloud hosts reach each other through it,
/// and a CVM that moves is found again by the bridges' MAC learning (QEMU announces the guest
/// after a migration).
///
/// Measured on this Debian 12 / libvirt 9.0: an isolated libvirt network (no forward, with or
/// without `<ip>`) does not start without `/usr/sbin/iptables`; a bridge-mode network over a
/// bridge that exists starts and needs no firewall binary. So the bridge is ours to make (a
/// short shell script, run locally or over the host's pinned SSH session) and libvirt's network
/// only names it (no NAT, no route, no DHCP, no DNS).
public struct CVMNetworkDefinition: Sendable, Equatable {
    public static let networkName = "cvmctl-cvm"
    public static let bridgeName = "cvmnet0"
    /// The nftables table holding the isolation rules on every host.
    public static let firewallTable = "cvmctl"
    /// 1500 minus VXLAN's 50 bytes over an IPv4 underlay: frames that cross a tunnel are never
    /// fragmented. Set on each CVM's interface (a bridge-mode network may not carry one);
    /// libvirt gives the guest's virtio NIC this MTU (host_mtu).
    public static let mtu = 1450
    public static let vxlanPort = 4789

    public struct Tunnel: Sendable, Equatable {
        /// The cloud host this tunnel serves (the hub has one per cloud host).
        public var peerHost: String
        public var vni: UInt32
        /// The underlay address of the other end.
        public var remote: String
        public var device: String { CVMNetworkDefinition.tunnelDevice(vni: vni) }
    }

    public var subnet: IPv4Subnet
    /// Whether this host carries the traffic manager's address on the segment (the hub).
    public var carriesGateway: Bool
    /// The tunnels this host must have. On the hub: only those the caller asks for (adding one
    /// cloud host never touches the others' tunnels).
    public var tunnels: [Tunnel]

    public init(subnet: IPv4Subnet, carriesGateway: Bool, tunnels: [Tunnel] = []) {
        self.subnet = subnet
        self.carriesGateway = carriesGateway
        self.tunnels = tunnels
    }

    /// The VNI of the tunnel between the hub and the cloud host at `address`: FNV-1a of the
    /// text folded into 4096…16,777,215. Two that collide make the second tunnel fail with
    /// one line.
    public static func vni(for address: String) -> UInt32 {
        var hash: UInt32 = 0x811c9dc5
        for byte in address.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return 4096 + hash % (0x00ff_ffff - 4096)
    }

    public static func tunnelDevice(vni: UInt32) -> String {
        let hex = String(vni, radix: 16)
        return "cvx" + String(repeating: "0", count: max(0, 6 - hex.count)) + hex
    }

    /// The tap device libvirt makes for a CVM's NIC: named by us after the CVM's id (not
    /// libvirt's `vnetN`), so the name is the same on every host it migrates to.
    public static func tapDevice(cvmID: String) -> String {
        "cv" + String(cvmID.filter(\.isHexDigit).prefix(12))
    }

    public var gatewayCIDR: String { "\(IPv4Subnet.format(subnet.gateway))/\(subnet.prefixLength)" }

    public var xml: String {
        """
        <network>
          <name>\(Self.networkName)</name>
          <forward mode='bridge'/>
          <bridge name='\(Self.bridgeName)'/>
        </network>

        """
    }

    /// The shell script (POSIX sh, run as root) that makes the host's part of the segment
    /// exist, idempotently and under a lock (two `cvmctl` at once do not race). It exits 3 with
    /// one line on stderr when a tunnel cannot be made, 4 when nft is missing.
    public var ensureScript: String {
        var s = """
        set -e
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        exec 9>/run/lock/cvmctl-segment.lock
        flock -w 30 9
        command -v nft >/dev/null 2>&1 || { echo "nft is missing (install the nftables package)" >&2; exit 4; }
        ip link show dev \(Self.bridgeName) >/dev/null 2>&1 || ip link add \(Self.bridgeName) type bridge
        if [ -e /proc/sys/net/ipv6/conf/\(Self.bridgeName)/disable_ipv6 ]; then echo 1 > /proc/sys/net/ipv6/conf/\(Self.bridgeName)/disable_ipv6; fi
        ip link set dev \(Self.bridgeName) mtu \(Self.mtu)

        """
        if carriesGateway {
            s += "ip addr replace \(gatewayCIDR) dev \(Self.bridgeName)\n"
        }
        for tunnel in tunnels {
            let dev = tunnel.device
            s += """
            if ! ip -d link show dev \(dev) 2>/dev/null | grep -q "vxlan id \(tunnel.vni) remote \(tunnel.remote) "; then
              ip link del dev \(dev) 2>/dev/null || true
              if ! out=$(ip link add \(dev) type vxlan id \(tunnel.vni) remote \(tunnel.remote) dstport \(Self.vxlanPort) 2>&1); then
                echo "cannot create VXLAN device \(dev) (VNI \(tunnel.vni), to \(tunnel.remote)): $out" >&2; exit 3
              fi
            fi
            ip link set dev \(dev) mtu \(Self.mtu) master \(Self.bridgeName) up

            """
        }
        s += "ip link set dev \(Self.bridgeName) up\n"
        s += "nft -f - <<'CVMCTL_NFT'\n\(firewall)CVMCTL_NFT\n"
        return s
    }

    /// The isolation rules: nothing a guest sends on the segment reaches this host's own
    /// stack (sshd, libvirtd, the management addresses: under Linux's weak host model any
    /// local address would answer on the bridge), except replies to connections the host
    /// opened, and packets the traffic manager's own table marked (its TLS return relays on the
    /// hub, see ``ReturnRelayFirewall``); nothing is routed into or out of the segment. Bridged traffic between CVMs
    /// and the tunnels is untouched: with br_netfilter loaded (a network namespace's default
    /// here) bridged frames pass the forward hook too, in and out on the bridge itself, so
    /// the forward rules drop only what crosses between the bridge and another interface.
    public var firewall: String {
        let bridge = Self.bridgeName, table = Self.firewallTable
        return """
        table inet \(table)
        delete table inet \(table)
        table inet \(table) {
          chain input {
            type filter hook input priority -10; policy accept;
            iifname "\(bridge)" ct state established,related accept
            iifname "\(bridge)" meta mark \(ReturnRelayFirewall.markText) accept
            iifname "\(bridge)" counter drop
          }
          chain forward {
            type filter hook forward priority -10; policy accept;
            iifname "\(bridge)" oifname != "\(bridge)" counter drop
            oifname "\(bridge)" iifname != "\(bridge)" counter drop
          }
        }

        """
    }

    /// Removes what ``ensureScript`` made; quiet when parts are gone. With `onlyTunnels` (the
    /// hub, when one cloud host leaves) it removes just those tunnels.
    public func removalScript(onlyTunnels: Bool) -> String {
        var s = """
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        exec 9>/run/lock/cvmctl-segment.lock
        flock -w 30 9

        """
        for tunnel in tunnels { s += "ip link del dev \(tunnel.device) 2>/dev/null || true\n" }
        if !onlyTunnels {
            s += "ip link del dev \(Self.bridgeName) 2>/dev/null || true\n"
            s += "nft delete table inet \(Self.firewallTable) 2>/dev/null || true\n"
        }
        s += "true\n"
        return s
    }
}
