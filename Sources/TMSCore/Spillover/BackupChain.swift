/// The name of a vServer (local, or a remote backup deployed in a CVM).
public struct VServerID: Sendable, Hashable, Comparable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral name: String) { self.name = name }

    public static func < (lhs: VServerID, rhs: VServerID) -> Bool { lhs.name < rhs.name }
    public var description: String { name }
}

/// What happens to a request when every vServer of its chain is full.
public enum EndOfChainAction: Sendable, Hashable {
    /// HTTP vServers: answer with a redirect to this URL.
    case redirect(url: String)
    /// TCP vServers: refuse the connection.
    case refuse
}

/// A configuration error in the backup topology, found when it is built.
public enum BackupChainError: Error, Sendable, Hashable, CustomStringConvertible {
    case duplicateVServer(VServerID)
    case unknownBackup(of: VServerID, backup: VServerID)
    /// The backups of these vServers form a cycle (in chain order, first repeated at the end).
    case cycle([VServerID])

    public var description: String {
        switch self {
        case .duplicateVServer(let id):
            return "vServer \(id) is configured twice"
        case .unknownBackup(let id, let backup):
            return "vServer \(id) has backup \(backup), which is not configured"
        case .cycle(let ids):
            return "backup chain has a cycle: " + ids.map(\.name).joined(separator: " -> ")
        }
    }
}

/// Which vServer backs up which (a backup may have a backup, to any depth) and the action
/// at the end of each chain. Validated on creation: every backup exists and no chain loops.
public struct BackupChain: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public let id: VServerID
        public let backup: VServerID?
        /// Used when this vServer is the last of a chain and is full.
        public let endAction: EndOfChainAction

        public init(_ id: VServerID, backup: VServerID? = nil, endAction: EndOfChainAction = .refuse) {
            self.id = id
            self.backup = backup
            self.endAction = endAction
        }
    }

    private let entries: [VServerID: Entry]

    /// - Throws: `BackupChainError` for a duplicate vServer, an unknown backup or a cycle.
    public init(_ entries: [Entry]) throws(BackupChainError) {
        var byID: [VServerID: Entry] = [:]
        for entry in entries {
            guard byID.updateValue(entry, forKey: entry.id) == nil else { throw .duplicateVServer(entry.id) }
        }
        for entry in entries {
            if let backup = entry.backup, byID[backup] == nil {
                throw .unknownBackup(of: entry.id, backup: backup)
            }
        }
        // Each vServer has at most one backup, so following backups from any vServer either
        // ends or revisits a vServer of the current walk (a cycle). Walks already checked
        // are not repeated, so this is linear in the number of vServers.
        var finished: Set<VServerID> = []
        for start in entries.map(\.id).sorted() where !finished.contains(start) {
            var walk: [VServerID] = []
            var onWalk: Set<VServerID> = []
            var next: VServerID? = start
            while let id = next, !finished.contains(id) {
                if onWalk.contains(id) {
                    let loopStart = walk.firstIndex(of: id)!
                    throw .cycle(Array(walk[loopStart...]) + [id])
                }
                walk.append(id)
                onWalk.insert(id)
                next = byID[id]!.backup
            }
            finished.formUnion(walk)
        }
        self.entries = byID
    }

    /// Whether `id` is configured.
    public func contains(_ id: VServerID) -> Bool { entries[id] != nil }

    /// `primary` followed by its backups, in order.
    /// - Precondition: `primary` is configured.
    public func chain(from primary: VServerID) -> [VServerID] {
        precondition(entries[primary] != nil, "vServer \(primary) is not configured")
        var chain: [VServerID] = []
        var next: VServerID? = primary
        while let id = next {
            chain.append(id)
            next = entries[id]!.backup
        }
        return chain
    }

    /// The action when every vServer of `primary`'s chain is full: that of the last one.
    public func endAction(from primary: VServerID) -> EndOfChainAction {
        entries[chain(from: primary).last!]!.endAction
    }
}
