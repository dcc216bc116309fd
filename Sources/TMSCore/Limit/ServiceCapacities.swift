/// The services bound to a vServer with their connection capacities and health. With
/// dynamic spillover, the vServer's limit is the sum of the capacities of the services
/// that are UP (SPEC.md §1.1). Pure value; publish `limit` with `VServerQuota.apply(_:)`.
public struct ServiceCapacities: Sendable, Hashable {
    public struct Service: Sendable, Hashable {
        public let name: String
        public let capacity: Int
        public var isUp: Bool

        public init(name: String, capacity: Int, isUp: Bool = true) {
            self.name = name
            self.capacity = capacity
            self.isUp = isUp
        }
    }

    public private(set) var services: [Service]

    /// - Throws: for a duplicate name or a negative capacity.
    public init(_ services: [Service]) throws(ServiceCapacitiesError) {
        var seen: Set<String> = []
        for service in services {
            guard seen.insert(service.name).inserted else { throw .duplicateService(service.name) }
            guard service.capacity >= 0 else { throw .negativeCapacity(service.name, service.capacity) }
        }
        self.services = services
    }

    /// The dynamic limit: the sum of the capacities of the services that are UP.
    public var limit: Int { services.reduce(0) { $0 + ($1.isUp ? $1.capacity : 0) } }

    /// Records a health-monitor verdict. Returns whether the state changed (and so the limit
    /// may have).
    @discardableResult
    public mutating func setUp(_ name: String, _ isUp: Bool) throws(ServiceCapacitiesError) -> Bool {
        guard let index = services.firstIndex(where: { $0.name == name }) else { throw .unknownService(name) }
        guard services[index].isUp != isUp else { return false }
        services[index].isUp = isUp
        return true
    }
}

public enum ServiceCapacitiesError: Error, Sendable, Hashable, CustomStringConvertible {
    case duplicateService(String)
    case negativeCapacity(String, Int)
    case unknownService(String)

    public var description: String {
        switch self {
        case .duplicateService(let name): return "service \(name) is listed twice"
        case .negativeCapacity(let name, let capacity): return "service \(name) has a negative capacity (\(capacity))"
        case .unknownService(let name): return "no service named \(name)"
        }
    }
}
