/// Where a tier's tasks may run, by host trust.
public enum SecurityRequirement: String, Sendable, Hashable, CaseIterable {
    /// Only on the TMS's own (local) hypervisor.
    case localOnly = "local-only"
    /// Local or private-cloud hosts.
    case privateOnly = "private"
    /// Any host, public clouds included.
    case publicAllowed = "public-allowed"

    /// Whether a host of trust `trust` satisfies this requirement.
    public func allows(_ trust: HostTrust) -> Bool {
        switch self {
        case .localOnly: trust == .local
        case .privateOnly: trust != .publicCloud
        case .publicAllowed: true
        }
    }
}
