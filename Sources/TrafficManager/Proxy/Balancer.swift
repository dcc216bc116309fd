/// Picks the service for a new connection among the services that are up and not yet tried
/// (SPEC.md §1.2): smooth weighted round robin, or least connections per weight. Pure state;
/// the data plane keeps one per vServer per core and hands least connections the counts of
/// every core (`openConnections`), so all cores balance on the same numbers.
public struct Balancer: Sendable, Hashable {
    public let method: VServerConfig.Method
    public let weights: [Int]
    /// Smooth weighted round robin's running scores.
    private var current: [Int]
    /// Connections open per service (on this core).
    public private(set) var active: [Int]
    /// Where least connections starts looking among equals, so ties rotate.
    private var rotation = 0

    public init(method: VServerConfig.Method, weights: [Int]) {
        precondition(weights.allSatisfy { $0 > 0 }, "weights must be positive")
        self.method = method
        self.weights = weights
        current = Array(repeating: 0, count: weights.count)
        active = Array(repeating: 0, count: weights.count)
    }

    /// The service to try next, or `nil` when no service is both up and untried.
    /// - Parameter openConnections: the connections open per service that least connections
    ///   compares (default: the ones this balancer counted itself).
    public mutating func pick(isUp: (Int) -> Bool, excluding tried: ServiceSet = ServiceSet(),
                              openConnections: ((Int) -> Int)? = nil) -> Int? {
        switch method {
        case .roundrobin: return pickRoundRobin(isUp: isUp, excluding: tried)
        case .leastconn: return pickLeastConnections(isUp: isUp, excluding: tried, open: openConnections)
        }
    }

    /// nginx's smooth weighted round robin: every eligible service gains its weight, the
    /// highest score wins and pays the total. Over any run of picks with a fixed eligible set,
    /// each service is picked in proportion to its weight, evenly spread.
    private mutating func pickRoundRobin(isUp: (Int) -> Bool, excluding tried: ServiceSet) -> Int? {
        var best = -1, total = 0
        for index in weights.indices where !tried.contains(index) && isUp(index) {
            current[index] += weights[index]
            total += weights[index]
            if best < 0 || current[index] > current[best] { best = index }
        }
        guard best >= 0 else { return nil }
        current[best] -= total
        return best
    }

    /// The eligible service with the fewest active connections per unit of weight
    /// (`active[i] / weight[i]`, compared exactly); ties go round the services in turn.
    private mutating func pickLeastConnections(isUp: (Int) -> Bool, excluding tried: ServiceSet,
                                               open: ((Int) -> Int)?) -> Int? {
        let count = weights.count
        var best = -1, bestOpen = 0
        for offset in 0..<count {
            let index = (rotation + offset) % count
            guard !tried.contains(index), isUp(index) else { continue }
            let connections = open?(index) ?? active[index]
            if best < 0 || connections * weights[best] < bestOpen * weights[index] {
                best = index
                bestOpen = connections
            }
        }
        guard best >= 0 else { return nil }
        rotation = (best + 1) % count
        return best
    }

    /// A connection to `index` opened.
    public mutating func opened(_ index: Int) { active[index] += 1 }

    /// A connection to `index` ended.
    public mutating func closed(_ index: Int) {
        precondition(active[index] > 0, "closed a connection that was not open")
        active[index] -= 1
    }
}
