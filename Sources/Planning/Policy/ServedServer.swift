/// A server a task works for (the backends a health monitor probes, the vServer whose logs it
/// collects). Placement prefers hosts close to the servers a task serves.
public struct ServedServer: Sendable, Hashable {
    public var name: String
    public var zone: String
    public var coordinate: GeoCoordinate

    public init(name: String, zone: String, coordinate: GeoCoordinate) {
        self.name = name
        self.zone = zone
        self.coordinate = coordinate
    }
}
