/// What a reload changed.
public struct ReloadSummary: Sendable, Hashable, Codable {
    public var generation: Int
    public var added: [String]
    public var changed: [String]
    public var removed: [String]
    public var unchanged: [String]

    /// Compares two configurations' vServers by name (pure).
    public static func diff(from old: TMSConfig?, to new: TMSConfig, generation: Int) -> ReloadSummary {
        let oldByName = Dictionary(uniqueKeysWithValues: (old?.vServers ?? []).map { ($0.name, $0) })
        let newNames = Set(new.vServers.map(\.name))
        var summary = ReloadSummary(generation: generation, added: [], changed: [], removed: [], unchanged: [])
        for vServer in new.vServers {
            switch oldByName[vServer.name] {
            case nil: summary.added.append(vServer.name)
            case let previous? where previous != vServer || monitorChanged(vServer, old, new):
                summary.changed.append(vServer.name)
            default: summary.unchanged.append(vServer.name)
            }
        }
        summary.removed = oldByName.keys.filter { !newNames.contains($0) }.sorted()
        return summary
    }

    private static func monitorChanged(_ vServer: VServerConfig, _ old: TMSConfig?, _ new: TMSConfig) -> Bool {
        guard let name = vServer.monitor else { return false }
        return old?.monitor(named: name) != new.monitor(named: name)
    }
}

public enum TrafficManagerError: Error, Sendable, CustomStringConvertible {
    case bindFailed(vServer: String, address: HostPort, reason: String)
    case coreCountChange(running: Int, requested: Int)
    case invalid(String)
    case notRunning

    public var description: String {
        switch self {
        case let .bindFailed(vServer, address, reason):
            return "vServer \(vServer): cannot listen on \(address): \(reason)"
        case let .coreCountChange(running, requested):
            return "the core count cannot change while running (running on \(running), the file asks for \(requested)); restart instead"
        case .invalid(let message):
            return message
        case .notRunning:
            return "the traffic manager is not running"
        }
    }
}
