/// The hypervisor kinds a host offers or an image can run on.
public struct HypervisorSet: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Plain QEMU emulation (TCG): runs anywhere, slowly.
    public static let qemu = HypervisorSet(rawValue: 1 << 0)
    /// QEMU with KVM acceleration.
    public static let kvm = HypervisorSet(rawValue: 1 << 1)

    public static let all: HypervisorSet = [.qemu, .kvm]

    /// Kind names as written in manifests and policy files, in a fixed order.
    public static let names: [(name: String, kind: HypervisorSet)] = [("qemu", .qemu), ("kvm", .kvm)]

    /// The set named by `names`; nil if one of them is unknown.
    public init?(names: some Sequence<String>) {
        var set: HypervisorSet = []
        for name in names {
            guard let kind = Self.names.first(where: { $0.name == name })?.kind else { return nil }
            set.insert(kind)
        }
        self = set
    }

    public var description: String {
        let parts = Self.names.filter { contains($0.kind) }.map(\.name)
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}
