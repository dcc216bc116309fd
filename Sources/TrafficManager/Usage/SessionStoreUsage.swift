import Synchronization

/// The session store's usage, a task of its own (`sessionstore`, policy task
/// `session-store`): what the tables it would hold carry, wherever they are kept (this
/// process's tables, alone or as the copy of a session-store cluster). Pins held count as
/// connections open, pins made or moved to another target as connections opened, so
/// `connections` is the entries held and `connectionsPerSecond` the writes per second: the
/// same figures whether the store runs here or in a cluster.
///
/// Brought up to date at each usage sample from the vServers' tables (`update`); the tables
/// count their own writes (``PersistenceTable/writes``).
final class SessionStoreUsage: Sendable {
    let usage = TaskUsage(name: "sessionstore", task: "session-store", kind: .sessionStore, ownThread: ())
    /// Writes last counted, by table (a table kept over a reload keeps its count).
    private let counted = Mutex<[ObjectIdentifier: Int]>([:])

    /// Adds the writes since the last call and sets the pins held; false when no vServer
    /// keeps a table (then the task is not reported).
    func update(tables: [PersistenceTable]) -> Bool {
        guard !tables.isEmpty else { return false }
        counted.withLock { counted in
            var next: [ObjectIdentifier: Int] = [:]
            var added = 0
            var held = 0
            for table in tables {
                let id = ObjectIdentifier(table)
                guard next[id] == nil else { continue }
                let writes = table.writes.load(ordering: .relaxed)
                added += max(0, writes &- (counted[id] ?? 0))
                next[id] = writes
                held += table.count
            }
            counted = next
            // Opened: every write so far; closed: so that opened - closed is what is held.
            let cell = usage.cells[0]
            let opened = cell.opened.load(ordering: .relaxed) &+ added
            cell.opened.store(opened, ordering: .relaxed)
            cell.closed.store(max(0, opened - held), ordering: .relaxed)
        }
        return true
    }
}
