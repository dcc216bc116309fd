import TMSCore

/// The backup-chain walk shared by both ways of routing: a relayed connection
/// (`ProxyConnection`) and a request of an HTTP session (`HTTPSession`). Call on `core`'s loop.
extension RouteChain {
    /// Where the walk starts: the backup `client` is pinned to (its index in the chain), else 0.
    func pinnedStart(client: @autoclosure () -> String?) -> Int {
        guard let persistence = primary.persistence, let client = client() else { return 0 }
        let now = MonotonicTime.now()
        guard let pinned = persistence.withLock({ $0.target(for: client, now: now) }) else { return 0 }
        return members.firstIndex { $0.id == pinned } ?? 0
    }

    /// Walks the chain from walk position `first` on `core` (see `RoutePlanner`): asks each
    /// member's spillover rule and quota, and counts spills.
    func plan(core: Int, start: Int, from first: Int) -> RoutePlan {
        let members = members
        let now = MonotonicTime.now()
        // The walk's last vServer cannot spill; its refusal is the end of the chain.
        let last = (start + members.count - 1) % members.count
        return RoutePlanner.plan(
            count: members.count, start: start, from: first,
            spills: { index in
                let member = members[index]
                let spills = member.quota.spilloverDecision(core: core) == .backup || !member.anyServiceUp
                    || (member.bandwidth != nil && member.coreState(core).bandwidthExhausted(now: now))
                if spills { member.usage.cells[core].spills.add(1) }
                return spills
            },
            admit: { index in
                switch members[index].quota.admit(core: core) {
                case .admitted: return .admitted
                case .wouldQueue: return .wouldQueue
                case .refused:
                    if index != last { members[index].usage.cells[core].spills.add(1) }
                    return .refused
                }
            })
    }

    /// A client admitted by the backup at `index` (> 0) stays with it while persistence lasts.
    func pin(client: @autoclosure () -> String?, to index: Int) {
        guard index > 0, let persistence = primary.persistence, let client = client() else { return }
        let member = members[index]
        let now = MonotonicTime.now()
        let changed = persistence.withLock { persistence -> Bool in
            guard persistence.target(for: client, now: now) != member.id else { return false }
            persistence.record(client: client, target: member.id, now: now)
            return true
        }
        if changed { persistence.recorded(client: client, target: member.id, now: now) }
    }
}

/// Client -> service stickiness, shared by both ways of routing. Call on the core's loop.
extension VServerRuntime {
    /// With stickiness: the service this client's last connection went to, while it is up and
    /// not yet tried by this connection (a failed connect falls back to the balancer).
    func stickyService(client: @autoclosure () -> String?, excluding tried: ServiceSet) -> Int? {
        guard let stickiness, let client = client() else { return nil }
        let now = MonotonicTime.now()
        guard let name = stickiness.withLock({ $0.target(for: client, now: now) })?.name,
              let index = services.firstIndex(where: { $0.config.name == name }),
              !tried.contains(index), services[index].isUp else { return nil }
        return index
    }

    /// With stickiness: this client now sticks to the service it connected to, for the
    /// timeout from now. A change goes to the session store, and so does a renewal once half
    /// the timeout has passed since the store last had it (the store's copy stays alive while
    /// the client keeps coming, without a write per connection).
    func stick(client: @autoclosure () -> String?, to index: Int) {
        guard let stickiness, services.indices.contains(index), let client = client() else { return }
        let now = MonotonicTime.now()
        let target = VServerID(services[index].config.name)
        let changed = stickiness.withLock { table -> Bool in
            let changed = table.target(for: client, now: now) != target
            table.record(client: client, target: target, now: now)
            return changed
        }
        stickiness.recorded(client: client, target: target, now: now, changed: changed)
    }
}
