extension PolicyReader {
    static let tierKeys = ["security", "latencyLimitMs", "costCeilingPerHour", "capacity", "allowedClouds", "allowedHosts"]
    static let tierCapacityKeys = ["maxVCPUs", "maxMemoryMiB", "maxCVMs"]

    /// `tiers: {NAME: {security, latencyLimitMs, costCeilingPerHour, capacity, allowedClouds, allowedHosts}}`
    mutating func readTiers(_ section: PolicyField, into draft: inout PolicyDraft) {
        for entry in namedEntries(of: section) {
            if let first = draft.tiers[entry.key] {
                report(.duplicate, at: entry.keyLocation, key: entry.path,
                       "tier '\(entry.key)' is already defined at \(first.definition.location)")
                continue
            }
            var tier = PolicyDraft.Tier(definition: PolicyReference(name: entry.key, path: entry.path, location: entry.keyLocation))
            let f = fields(of: entry, allowed: Self.tierKeys, required: ["security"])
            if let v = f["security"] { tier.security = choice(v, of: SecurityRequirement.self) }
            if let v = f["latencyLimitMs"] { tier.latencyLimitMs = number(v, "must be > 0") { $0 > 0 } }
            if let v = f["costCeilingPerHour"] { tier.costCeilingPerHour = number(v, "must be >= 0") { $0 >= 0 } }
            if let v = f["capacity"] {
                let c = fields(of: v, allowed: Self.tierCapacityKeys)
                if let v = c["maxVCPUs"] { tier.capacity.maxVCPUs = int(v, in: 0...Int.max) }
                if let v = c["maxMemoryMiB"] { tier.capacity.maxMemoryMiB = int(v, in: 0...Int.max) }
                if let v = c["maxCVMs"] { tier.capacity.maxCVMs = int(v, in: 0...Int.max) }
            }
            if let v = f["allowedClouds"] {
                if let names = nameList(v) { tier.allowedClouds = names } else { tier.incomplete = true }
            }
            if let v = f["allowedHosts"] {
                if let names = nameList(v) { tier.allowedHosts = names } else { tier.incomplete = true }
            }
            draft.tiers[entry.key] = tier
        }
    }
}
