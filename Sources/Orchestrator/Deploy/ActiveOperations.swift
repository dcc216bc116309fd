import Foundation
import Synchronization

/// The CVM rows this process is deploying (or replacing) right now, by row id.
///
/// A row's owner pid tells another process's operation from an interrupted one, but not two
/// operations of one process apart (elastic mode runs several actions at once, tests run
/// deploys side by side): a row owned by this pid is in progress exactly when its id is here,
/// and left over from an earlier failure otherwise.
package enum ActiveOperations {
    private static let ids = Mutex<Set<String>>([])

    /// Registers `id`; false when an operation of this process holds it already.
    static func begin(_ id: String) -> Bool { ids.withLock { $0.insert(id).inserted } }

    static func end(_ id: String) { _ = ids.withLock { $0.remove(id) } }

    /// True when an operation still works on the row: one of this process (registered
    /// here), or the live process recorded as its owner.
    static func isInProgress(_ record: CVMRecord) -> Bool {
        guard let pid = record.ownerPid else { return false }
        if pid == getpid() { return ids.withLock { $0.contains(record.id) } }
        return ProcessLiveness.isOtherLiveProcess(pid, start: record.ownerStart)
    }
}
