/// Weights of the placement score terms and the scales that normalise them.
///
/// Every term is in 0...1 (1 = best); a candidate's score is the weighted sum.
public struct PlacementWeights: Sendable, Hashable {
    /// Free capacity left on the host after placing (the scarcest of vCPUs, memory, CVM slots).
    public var capacity: Double
    /// `1 - load`.
    public var load: Double
    /// Closeness to the servers the task serves.
    public var distance: Double
    /// Cheapness.
    public var cost: Double
    /// The task's expected speed there: faster, less loaded CPUs against the latency its I/O pays.
    public var speedTrade: Double
    /// Fewer members of the same cluster on the host.
    public var spread: Double
    /// The host is one of the task's preferred hosts.
    public var preference: Double
    /// Distance at which the distance term is 0.5, in kilometres.
    public var distanceScaleKm: Double
    /// Cost per hour at which the cost term is 0.5 when the tier has no cost ceiling.
    public var costScalePerHour: Double
    /// Latency that doubles the time of a purely I/O-bound task, in milliseconds.
    public var ioLatencyScaleMs: Double

    public init(
        capacity: Double = 1, load: Double = 1, distance: Double = 1, cost: Double = 1,
        speedTrade: Double = 1, spread: Double = 2, preference: Double = 0.5,
        distanceScaleKm: Double = 1000, costScalePerHour: Double = 1, ioLatencyScaleMs: Double = 10
    ) {
        self.capacity = capacity
        self.load = load
        self.distance = distance
        self.cost = cost
        self.speedTrade = speedTrade
        self.spread = spread
        self.preference = preference
        self.distanceScaleKm = distanceScaleKm
        self.costScalePerHour = costScalePerHour
        self.ioLatencyScaleMs = ioLatencyScaleMs
    }

    public static let standard = PlacementWeights()
}
