/// Where a CVM is in its life, as far as the planner cares.
public enum CVMPhase: String, Sendable, Hashable, CaseIterable {
    /// Being defined/booted; counts towards its task and its host already.
    case deploying
    /// Up and heart-beating.
    case running
    /// Live migration under way; counts on its source host until it lands.
    case migrating
    /// Draining or being torn down; no longer counts towards its task.
    case decommissioning
    /// Missed heartbeats, unresponsive, or a libvirt lifecycle failure.
    case failed

    /// Deploy, migration and decommission are actions in progress.
    public var isInFlight: Bool {
        switch self {
        case .deploying, .migrating, .decommissioning: true
        case .running, .failed: false
        }
    }

    /// Counts towards the number of CVMs its task has (or will have shortly).
    public var isHealthy: Bool {
        switch self {
        case .deploying, .running, .migrating: true
        case .decommissioning, .failed: false
        }
    }
}

/// One CVM as the planner sees it.
public struct CVMSnapshot: Sendable, Hashable {
    public var id: String
    public var task: String
    public var host: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var phase: CVMPhase

    public init(id: String, task: String, host: String, vcpus: Int, memoryMiB: Int, phase: CVMPhase = .running) {
        self.id = id
        self.task = task
        self.host = host
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.phase = phase
    }

    public var footprint: ResourceAmount { .cvm(vcpus: vcpus, memoryMiB: memoryMiB) }
}
