/// One thing the elastic planner wants done, with why and under which policy commit.
///
/// The planner only proposes; whoever carries an action out (deploy, live migration,
/// decommission) records `reason` and `policyCommit` with it.
public struct PlannedAction: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// Start a new CVM of `task` from `image` on `host`.
        case deploy(task: String, image: String, host: String, vcpus: Int, memoryMiB: Int)
        /// Live-migrate CVM `cvm` from `from` to `to`.
        case migrate(cvm: String, from: String, to: String)
        /// Drain, stop and remove CVM `cvm` on `host`.
        case decommission(cvm: String, host: String)
    }

    /// What prompted the action.
    public enum Cause: String, Sendable, Hashable, CaseIterable {
        /// The policy no longer allows the CVM where it is, or no longer has its task.
        case compliance
        /// The CVM failed: clean it up.
        case failure
        /// A failed or non-compliant CVM is replaced.
        case replacement
        /// Anticipated usage needs more CVMs (or the policy's minimum rose).
        case scaleOut = "scale out"
        /// Anticipated usage needs fewer CVMs (or the policy's maximum fell).
        case scaleIn = "scale in"
        /// A local host is overloaded and the task runs better on a cloud host.
        case pushToCloud = "push to cloud"
        /// The local host has room again and suits the CVM better than its cloud host.
        case bringBack = "bring back"

        /// Actions that start the task's cooldown; compliance and failure handling neither
        /// wait for nor start one.
        public var startsCooldown: Bool {
            switch self {
            case .scaleOut, .scaleIn, .pushToCloud, .bringBack: true
            case .compliance, .failure, .replacement: false
            }
        }
    }

    public var kind: Kind
    public var task: String
    public var cause: Cause
    public var reason: String
    public var policyCommit: String
    /// How the target host was chosen (deploy and migrate).
    public var explanation: PlacementExplanation?

    public init(kind: Kind, task: String, cause: Cause, reason: String, policyCommit: String, explanation: PlacementExplanation? = nil) {
        self.kind = kind
        self.task = task
        self.cause = cause
        self.reason = reason
        self.policyCommit = policyCommit
        self.explanation = explanation
    }

    /// `deploy log-collector (image log-cvm, 1 vCPU, 512 MiB) on east-1 [scale out] — reason (policy abc123)`
    public var description: String {
        "\(summary) [\(cause.rawValue)] — \(reason) (policy \(policyCommit))"
    }

    /// The action alone, without the reason.
    public var summary: String {
        switch kind {
        case let .deploy(task, image, host, vcpus, memory):
            "deploy \(task) (image \(image), \(vcpus) vCPU, \(memory) MiB) on \(host)"
        case let .migrate(cvm, from, to):
            "migrate \(cvm) (\(task)) from \(from) to \(to)"
        case let .decommission(cvm, host):
            "decommission \(cvm) (\(task)) on \(host)"
        }
    }
}
