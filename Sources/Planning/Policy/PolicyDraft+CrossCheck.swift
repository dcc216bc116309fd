extension PolicyDraft {
    /// Checks what single values cannot show: references between sections, against the image
    /// catalog and host registry in `context`, and combinations that can never be satisfied.
    func crossCheck(context: PolicyContext) -> [PolicyDiagnostic] {
        var diagnostics: [PolicyDiagnostic] = []
        func report(_ kind: PolicyDiagnostic.Kind, _ ref: PolicyReference, _ message: String) {
            diagnostics.append(PolicyDiagnostic(kind, at: ref.location, key: ref.path, message))
        }

        // Each host belongs to exactly one cloud, which gives it its declared trust.
        var cloudOfHost: [String: (cloud: String, trust: HostTrust?, at: PolicyLocation)] = [:]
        for cloud in clouds.values.sorted(by: { $0.definition.location < $1.definition.location }) {
            for host in cloud.hosts {
                if let first = cloudOfHost[host.name] {
                    report(.duplicate, host, "host '\(host.name)' is already in cloud '\(first.cloud)' (at \(first.at)); a host belongs to one cloud")
                } else {
                    cloudOfHost[host.name] = (cloud.definition.name, cloud.trust, host.location)
                }
            }
        }

        // A cloud whose host list did not read leaves every host's membership unknown.
        let membershipKnown = clouds.values.allSatisfy { !$0.incomplete }

        var tierHosts: [String: Set<String>] = [:]
        for tier in tiers.values.sorted(by: { $0.definition.location < $1.definition.location }) {
            var hosts: Set<String> = []
            for ref in tier.allowedClouds {
                guard let cloud = clouds[ref.name] else {
                    report(.unknownReference, ref, "unknown cloud '\(ref.name)'\(known(clouds.keys, "defined clouds"))")
                    continue
                }
                if let security = tier.security, let trust = cloud.trust, !security.allows(trust) {
                    report(.impossibleCombination, ref,
                           "cloud '\(ref.name)' has trust \(trust.rawValue), which security \(security.rawValue) forbids")
                    continue
                }
                hosts.formUnion(cloud.hosts.map(\.name))
            }
            for ref in tier.allowedHosts {
                guard let home = cloudOfHost[ref.name] else {
                    guard membershipKnown else { continue }
                    report(.unknownReference, ref, "host '\(ref.name)' is in no cloud; list it under a cloud in clouds: so its trust is known")
                    continue
                }
                if let security = tier.security, let trust = home.trust, !security.allows(trust) {
                    report(.impossibleCombination, ref,
                           "host '\(ref.name)' is in cloud '\(home.cloud)' with trust \(trust.rawValue), which security \(security.rawValue) forbids")
                    continue
                }
                hosts.insert(ref.name)
            }
            var existing = hosts
            if let knownHosts = context.knownHosts { existing.formIntersection(knownHosts) }
            if existing.isEmpty, !tier.incomplete, tier.security != nil, membershipKnown {
                let what = hosts.isEmpty
                    ? "its allowedClouds and allowedHosts name no usable host"
                    : "none of its hosts (\(hosts.sorted().joined(separator: ", "))) is known to the host registry"
                report(.impossibleCombination, tier.definition, "tier '\(tier.definition.name)' allows no host that exists: \(what)")
            }
            tierHosts[tier.definition.name] = hosts
        }

        for task in tasks.values.sorted(by: { $0.definition.location < $1.definition.location }) {
            diagnostics += check(
                task, tierHosts: tierHosts, cloudOfHost: cloudOfHost.mapValues(\.cloud), membershipKnown: membershipKnown,
                context: context)
        }
        return diagnostics
    }

    private func check(
        _ task: Task, tierHosts: [String: Set<String>], cloudOfHost: [String: String], membershipKnown: Bool,
        context: PolicyContext
    ) -> [PolicyDiagnostic] {
        var diagnostics: [PolicyDiagnostic] = []
        func report(_ kind: PolicyDiagnostic.Kind, _ path: String, _ message: String) {
            let location = sources.location(of: path) ?? task.definition.location
            diagnostics.append(PolicyDiagnostic(kind, at: location, key: path, message))
        }
        let base = task.definition.path
        let name = task.definition.name

        var tier: Tier?
        if let ref = task.tier {
            tier = tiers[ref.name]
            if tier == nil {
                report(.unknownReference, ref.path, "unknown tier '\(ref.name)'\(known(tiers.keys, "defined tiers"))")
            }
        }
        var image: ImageProfile?
        if let ref = task.image, let images = context.images {
            image = images[ref.name]
            if image == nil {
                report(.unknownReference, ref.path, "unknown image '\(ref.name)'\(known(images.keys, "images in the catalog"))")
            } else if let runs = image?.tasks, !runs.contains(name) {
                report(.impossibleCombination, ref.path, "image '\(ref.name)' cannot run task '\(name)'\(known(runs, "it runs"))")
            }
        }
        for ref in task.serves where servers[ref.name] == nil {
            report(.unknownReference, ref.path, "unknown server '\(ref.name)'\(known(servers.keys, "defined servers"))")
        }
        for ref in task.preferredHosts where membershipKnown {
            if cloudOfHost[ref.name] == nil {
                report(.unknownReference, ref.path, "host '\(ref.name)' is in no cloud")
            } else if let tierName = task.tier?.name, let allowed = tierHosts[tierName], !allowed.contains(ref.name) {
                report(.impossibleCombination, ref.path, "preferred host '\(ref.name)' is not allowed by tier '\(tierName)'")
            }
        }

        if let min = task.minCVMs, let max = task.maxCVMs, min > max {
            report(.impossibleCombination, base + ".minCVMs", "minCVMs \(min) > maxCVMs \(max)")
        }
        if let size = task.clusterSize, let max = task.maxCVMs, size > max {
            report(.impossibleCombination, base + ".clusterSize", "clusterSize \(size) > maxCVMs \(max)")
        }

        // Size of each CVM: the rule's, else the image's default.
        let vcpus = task.vcpus ?? image?.defaultVCPUs
        let memory = task.memoryMiB ?? image?.defaultMemoryMiB
        let imageKnownOrUnchecked = context.images == nil || image != nil
        if imageKnownOrUnchecked, task.image != nil {
            let because = image.map { " (image '\($0.name)' has no default)" } ?? " (no image catalog to take a default from)"
            if vcpus == nil { report(.missingKey, base + ".vcpus", "missing required key 'vcpus'\(because)") }
            if memory == nil { report(.missingKey, base + ".memoryMiB", "missing required key 'memoryMiB'\(because)") }
        }

        // The smallest offload (a full cluster) and the minimum must fit in the tier's capacity.
        if let tier, let vcpus, let memory, !task.incomplete {
            let size = task.clusterSize ?? 1
            let least = Swift.max(size, task.minCVMs ?? 0)
            let path = (task.minCVMs ?? 0) > size ? base + ".minCVMs" : base + ".clusterSize"
            let limits: [(String, Int?, Int)] = [
                ("CVMs", tier.capacity.maxCVMs, least),
                ("vCPUs", tier.capacity.maxVCPUs, least * vcpus),
                ("MiB of memory", tier.capacity.maxMemoryMiB, least * memory),
            ]
            for (what, limit, needed) in limits {
                if let limit, needed > limit {
                    report(.impossibleCombination, path,
                           "task '\(name)' needs at least \(least) CVM(s) = \(needed) \(what) once offloaded, but tier '\(tier.definition.name)' allows \(limit)")
                    break
                }
            }
        }
        return diagnostics
    }

    private func known(_ names: some Sequence<String>, _ what: String) -> String {
        let list = names.sorted()
        return list.isEmpty ? " (none defined)" : " (\(what): \(list.joined(separator: ", ")))"
    }
}
