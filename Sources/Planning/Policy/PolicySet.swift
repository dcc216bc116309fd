/// A complete, validated set of policies: what one policy commit says.
///
/// Only ``PolicyLoader`` builds validated sets from files; the memberwise initialiser exists
/// for tests and tools and checks nothing.
public struct PolicySet: Sendable, Hashable {
    public var tiers: [String: TierPolicy]
    public var tasks: [String: TaskRule]
    public var clouds: [String: CloudPolicy]
    public var servers: [String: ServedServer]
    public var elastic: ElasticSettings
    public var placementWeights: PlacementWeights
    /// Images the task rules use, from the catalog the set was validated against (empty when
    /// loaded without a catalog: placement then assumes an image runs on every hypervisor).
    public var images: [String: ImageProfile]
    public var sources: PolicySourceMap

    public init(
        tiers: [TierPolicy] = [], tasks: [TaskRule] = [], clouds: [CloudPolicy] = [],
        servers: [ServedServer] = [], elastic: ElasticSettings = ElasticSettings(),
        placementWeights: PlacementWeights = .standard, images: [ImageProfile] = [],
        sources: PolicySourceMap = PolicySourceMap()
    ) {
        self.tiers = Dictionary(tiers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.tasks = Dictionary(tasks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.clouds = Dictionary(clouds.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.servers = Dictionary(servers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.elastic = elastic
        self.placementWeights = placementWeights
        self.images = Dictionary(images.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.sources = sources
    }

    /// Task names in a fixed order (by name).
    public var taskNames: [String] { tasks.keys.sorted() }

    /// The tier a task belongs to.
    public func tier(of task: String) -> TierPolicy? {
        tasks[task].flatMap { tiers[$0.tier] }
    }
}
