/// A connection attempt the agent makes on the host's behalf, to check what the CVM segment
/// lets a guest reach (`cvmctl probe`): a TCP connect to an IPv4 literal and port, routed the
/// way a hostile guest could route it — straight onto the link (ARP for the target on the
/// segment, which reaches a host's own stack under Linux's weak host model) or through the
/// segment's gateway (the traffic manager's machine).
public struct ProbeTarget: Sendable, Equatable, CustomStringConvertible {
    public enum Route: String, Sendable, CaseIterable {
        case link, gateway
    }

    public var address: UInt32
    public var port: UInt16
    public var route: Route

    public init(address: UInt32, port: UInt16, route: Route) {
        self.address = address
        self.port = port
        self.route = route
    }

    /// `a.b.c.d:port`; nil for anything else (names are never resolved).
    public init?(_ text: String, route: Route) {
        guard text.utf8.count <= 21 else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Subnet.parseAddress(String(parts[0])),
              parts[1].utf8.count <= 5, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let port = UInt16(parts[1]), port > 0, String(port) == parts[1] else { return nil }
        self.init(address: address, port: port, route: route)
    }

    public var endpoint: String { "\(IPv4Subnet.format(address)):\(port)" }
    public var description: String { "\(endpoint) via \(route.rawValue)" }
}

/// What came of a probe, as the agent reports it in the command's `ACK`.
public enum ProbeResult: String, Sendable, CaseIterable {
    /// The connection was accepted.
    case open
    /// Something answered with a reset.
    case refused
    /// Nothing answered within the agent's deadline (dropped on the way).
    case timeout
    /// The guest's own stack had no way there (no NIC, no route, an ICMP error).
    case unreachable
    /// Any other failure.
    case error
}
