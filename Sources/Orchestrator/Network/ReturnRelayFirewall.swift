import Foundation

/// Opens the hub's CVM bridge to the traffic manager's TLS return relays, and to nothing else:
/// the isolation rules (``CVMNetworkDefinition/firewall``) drop everything a guest sends to
/// the hub's own stack except packets carrying ``mark``; this table, owned by `cvmctl tms run`,
/// marks TCP to the relays' ports on the gateway address. (An accept in one nftables chain
/// does not overrule a drop in another; a mark set at an earlier priority does.) The relays
/// accept only mutual TLS with a certificate of the orchestrator's CA, so a guest without one
/// gets a handshake failure.
public enum ReturnRelayFirewall {
    public static let table = "cvmctl-tms"
    public static let mark: UInt32 = 0x4376_544d
    static var markText: String { "0x" + String(mark, radix: 16) }

    /// The table for `ports` on `gateway` (an empty set removes the rule).
    public static func rules(gateway: String, ports: [Int]) -> String {
        let bridge = CVMNetworkDefinition.bridgeName
        let rule = ports.isEmpty ? "" : """
                iifname "\(bridge)" ip daddr \(gateway) tcp dport { \(ports.sorted().map(String.init).joined(separator: ", ")) } meta mark set \(markText)

            """
        return """
            table inet \(table)
            delete table inet \(table)
            table inet \(table) {
              chain input {
                type filter hook input priority -20; policy accept;
            \(rule)  }
            }

            """
    }

    /// Installs the rules on this machine (the hub).
    /// - Throws: one line when nft fails.
    public static func apply(gateway: String, ports: [Int]) throws {
        let script = "nft -f - <<'CVMCTL_NFT'\n\(rules(gateway: gateway, ports: ports))CVMCTL_NFT\n"
        let output = try HostShell.runLocally("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n" + script)
        guard output.status == 0 else {
            throw OrchestratorError.invalidArgument("cannot open the CVM bridge to the return relays (nft): \(output.problem)")
        }
    }

    /// Removes the table (quiet when it is gone).
    public static func remove() {
        _ = try? HostShell.runLocally("PATH=/usr/sbin:/usr/bin:/sbin:/bin\nnft delete table inet \(table) 2>/dev/null; true")
    }
}
