/// What the policy needs to know about a CVM image from the image catalog.
public struct ImageProfile: Sendable, Hashable {
    public var name: String
    public var hypervisors: HypervisorSet
    public var defaultVCPUs: Int?
    public var defaultMemoryMiB: Int?
    /// Tasks the image can run (its manifest's `tasks`); nil when the manifest does not say.
    public var tasks: Set<String>?

    public init(
        name: String, hypervisors: HypervisorSet, defaultVCPUs: Int? = nil, defaultMemoryMiB: Int? = nil,
        tasks: Set<String>? = nil
    ) {
        self.name = name
        self.hypervisors = hypervisors
        self.defaultVCPUs = defaultVCPUs
        self.defaultMemoryMiB = defaultMemoryMiB
        self.tasks = tasks
    }
}
