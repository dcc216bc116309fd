/// An action started but perhaps not yet visible in the store (a deploy writes its row only
/// after its checks): overlaid on the inventory so the next evaluation neither repeats it
/// nor forgets the capacity it takes.
public enum PendingAction: Sendable, Hashable {
    case deploy(cvm: String, task: String, host: String, vcpus: Int, memoryMiB: Int)
    case migrate(cvm: String, to: String)
    case decommission(cvm: String)

    /// The CVM the action is about.
    public var cvm: String {
        switch self {
        case let .deploy(cvm, _, _, _, _), let .migrate(cvm, _), let .decommission(cvm): cvm
        }
    }
}
