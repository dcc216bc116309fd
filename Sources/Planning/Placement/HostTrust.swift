/// How far a host is trusted with a task's data: the TMS's own machine, a private cloud, or a
/// public cloud. Ordered from most to least trusted.
public enum HostTrust: String, Sendable, Hashable, CaseIterable, Comparable {
    case local
    case privateCloud = "private"
    case publicCloud = "public"

    public static func < (lhs: HostTrust, rhs: HostTrust) -> Bool {
        lhs.rank < rhs.rank
    }

    /// 0 for local, 1 for private, 2 for public.
    public var rank: Int {
        switch self {
        case .local: 0
        case .privateCloud: 1
        case .publicCloud: 2
        }
    }
}
