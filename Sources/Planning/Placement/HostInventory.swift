/// The hosts placement may choose from and the CVMs already on them.
///
/// Hosts are kept sorted by name, which makes every iteration, and so every decision,
/// independent of the order the caller listed them in. Contract: host names are unique
/// (`init` traps on a duplicate, as that is a registry bug, not an input to tolerate).
public struct HostInventory: Sendable {
    public private(set) var hosts: [HostSnapshot]
    public private(set) var cvms: [CVMSnapshot]
    /// Host names by index, shared (not copied) by every explanation made from this inventory.
    public let hostNames: [String]
    let indexByName: [String: Int]
    /// Host coordinates on the unit sphere, by host index (precomputed for distances).
    let unitVectors: [GeoUnitVector]

    public init(hosts: [HostSnapshot], cvms: [CVMSnapshot] = []) {
        let sorted = hosts.sorted { $0.name < $1.name }
        var index: [String: Int] = [:]
        index.reserveCapacity(sorted.count)
        for (i, host) in sorted.enumerated() {
            precondition(index.updateValue(i, forKey: host.name) == nil, "duplicate host name \(host.name)")
        }
        self.hosts = sorted
        self.hostNames = sorted.map(\.name)
        self.cvms = cvms.sorted { $0.id < $1.id }
        self.indexByName = index
        self.unitVectors = sorted.map { GeoUnitVector($0.coordinate) }
    }

    public func index(of host: String) -> Int? {
        indexByName[host]
    }

    public func host(named name: String) -> HostSnapshot? {
        indexByName[name].map { hosts[$0] }
    }

    public func cvm(id: String) -> CVMSnapshot? {
        cvms.first { $0.id == id }
    }

    /// CVMs of `task`, by id.
    public func cvms(of task: String) -> [CVMSnapshot] {
        cvms.filter { $0.task == task }
    }

    /// Number of CVMs whose deploy, migration or decommission is under way.
    public var actionsInFlight: Int {
        cvms.count { $0.phase.isInFlight }
    }

    /// Adds `amount` to the used capacity of `host` (a placement just took it). Unknown hosts
    /// are ignored.
    public mutating func reserve(_ amount: ResourceAmount, on host: String) {
        guard let i = indexByName[host] else { return }
        hosts[i].used += amount
    }

    /// Gives `amount` back on `host`.
    public mutating func release(_ amount: ResourceAmount, on host: String) {
        guard let i = indexByName[host] else { return }
        hosts[i].used -= amount
    }

    /// Changes the measured load of `host` (the planner's estimate after moving work).
    public mutating func setLoad(_ load: Double, on host: String) {
        guard let i = indexByName[host] else { return }
        hosts[i].load = load
    }

    /// Adds, replaces (same id) or removes (`nil`) a CVM record.
    public mutating func updateCVM(id: String, to cvm: CVMSnapshot?) {
        if let i = cvms.firstIndex(where: { $0.id == id }) {
            if let cvm { cvms[i] = cvm } else { cvms.remove(at: i) }
        } else if let cvm {
            cvms.append(cvm)
            cvms.sort { $0.id < $1.id }
        }
    }
}
