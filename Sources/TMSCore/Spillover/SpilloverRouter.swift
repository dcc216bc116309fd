/// Where a new request goes.
public enum RouteDecision: Sendable, Hashable {
    /// To this vServer; `depth` 0 is the primary, 1 its backup, ...
    case vServer(VServerID, depth: Int)
    case redirect(url: String)
    case refuse
}

/// Routes new requests along backup chains (SPEC.md §1.1): the first vServer of the chain
/// that does not spill over takes the request; when all do, the end-of-chain action
/// applies. Pure: the caller supplies, per vServer, whether it spills right now (for a
/// local vServer: `VServerQuota.spilloverDecision(core:) == .backup`).
public struct SpilloverRouter: Sendable, Hashable {
    public let chains: BackupChain

    public init(chains: BackupChain) {
        self.chains = chains
    }

    /// Routes a request that arrived at `primary`. Because the rule is evaluated for every
    /// request, requests return to the primary as soon as it no longer spills.
    public func route(primary: VServerID, spills: (VServerID) -> Bool) -> RouteDecision {
        walk(chains.chain(from: primary), from: 0, primary: primary, spills: spills)
    }

    /// Routes with spillover persistence: a client pinned to a backup goes there (or further
    /// down the chain if it spills too; back up the chain only when all of those are full)
    /// until its pin expires, even if the primary has room again. A client newly sent to a
    /// backup is pinned to it from `now` for the persistence timeout.
    public func route(
        primary: VServerID, client: String, now: Duration,
        persistence: inout SpilloverPersistence, spills: (VServerID) -> Bool
    ) -> RouteDecision {
        let chain = chains.chain(from: primary)
        var start = 0
        if let pinned = persistence.target(for: client, now: now), let index = chain.firstIndex(of: pinned) {
            start = index
        }
        let decision = walk(chain, from: start, primary: primary, spills: spills)
        if case .vServer(let id, let depth) = decision, depth > 0,
           persistence.target(for: client, now: now) != id {
            persistence.record(client: client, target: id, now: now)
        }
        return decision
    }

    /// Tries `chain[start...]` then, for a pinned client whose backups are all full,
    /// `chain[..<start]`; the end-of-chain action when every vServer spills.
    private func walk(_ chain: [VServerID], from start: Int, primary: VServerID,
                      spills: (VServerID) -> Bool) -> RouteDecision {
        for depth in Array(start..<chain.count) + Array(0..<start) where !spills(chain[depth]) {
            return .vServer(chain[depth], depth: depth)
        }
        switch chains.endAction(from: primary) {
        case .redirect(let url): return .redirect(url: url)
        case .refuse: return .refuse
        }
    }
}
