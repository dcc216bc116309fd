/// A named group of hosts that share one trust level (the local hypervisor, a private
/// datacentre, a public cloud region). Tiers allow clouds by name.
public struct CloudPolicy: Sendable, Hashable {
    public var name: String
    public var trust: HostTrust
    public var hosts: [String]

    public init(name: String, trust: HostTrust, hosts: [String]) {
        self.name = name
        self.trust = trust
        self.hosts = hosts
    }
}
