/// An amount of the three resources capacity is counted in.
public struct ResourceAmount: Sendable, Hashable {
    public var vcpus: Int
    public var memoryMiB: Int
    public var cvms: Int

    public init(vcpus: Int, memoryMiB: Int, cvms: Int) {
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.cvms = cvms
    }

    public static let zero = ResourceAmount(vcpus: 0, memoryMiB: 0, cvms: 0)

    /// The amount one CVM of the given size takes.
    public static func cvm(vcpus: Int, memoryMiB: Int) -> ResourceAmount {
        ResourceAmount(vcpus: vcpus, memoryMiB: memoryMiB, cvms: 1)
    }

    public static func + (lhs: ResourceAmount, rhs: ResourceAmount) -> ResourceAmount {
        ResourceAmount(vcpus: lhs.vcpus + rhs.vcpus, memoryMiB: lhs.memoryMiB + rhs.memoryMiB, cvms: lhs.cvms + rhs.cvms)
    }

    public static func - (lhs: ResourceAmount, rhs: ResourceAmount) -> ResourceAmount {
        ResourceAmount(vcpus: lhs.vcpus - rhs.vcpus, memoryMiB: lhs.memoryMiB - rhs.memoryMiB, cvms: lhs.cvms - rhs.cvms)
    }

    public static func += (lhs: inout ResourceAmount, rhs: ResourceAmount) { lhs = lhs + rhs }
    public static func -= (lhs: inout ResourceAmount, rhs: ResourceAmount) { lhs = lhs - rhs }

    /// True when every component of `self` is at most the same component of `limit`.
    public func fits(within limit: ResourceAmount) -> Bool {
        vcpus <= limit.vcpus && memoryMiB <= limit.memoryMiB && cvms <= limit.cvms
    }
}

/// One of the three capacity resources, for rejections that name which one ran out.
public enum CapacityResource: String, Sendable, Hashable, CaseIterable {
    case vcpus = "vCPUs"
    case memoryMiB = "memory MiB"
    case cvms = "CVMs"
}
