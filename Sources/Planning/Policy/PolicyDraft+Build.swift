extension PolicyDraft {
    /// The policy set. Call only when reading and cross-checking reported nothing: every
    /// required field is then present.
    func build(images: [String: ImageProfile]?) -> PolicySet {
        let cloudList = clouds.values.map { CloudPolicy(name: $0.definition.name, trust: $0.trust!, hosts: $0.hosts.map(\.name)) }
        let tierList = tiers.values.map { t in
            var resolved = Set(t.allowedHosts.map(\.name))
            for ref in t.allowedClouds { resolved.formUnion(clouds[ref.name]?.hosts.map(\.name) ?? []) }
            return TierPolicy(
                name: t.definition.name, security: t.security!, latencyLimitMs: t.latencyLimitMs,
                costCeilingPerHour: t.costCeilingPerHour, capacity: t.capacity,
                allowedClouds: t.allowedClouds.map(\.name), allowedHosts: t.allowedHosts.map(\.name),
                resolvedHosts: resolved)
        }
        let serverList = servers.values.map {
            ServedServer(name: $0.definition.name, zone: $0.zone ?? "",
                         coordinate: GeoCoordinate(latitude: $0.latitude!, longitude: $0.longitude!))
        }
        let taskList = tasks.values.map { t in
            let image = images?[t.image!.name]
            return TaskRule(
                name: t.definition.name, image: t.image!.name, tier: t.tier!.name, thresholds: t.thresholds,
                minCVMs: t.minCVMs ?? 0, maxCVMs: t.maxCVMs!, clusterSize: t.clusterSize ?? 1,
                serves: t.serves.map(\.name), preferredHosts: t.preferredHosts.map(\.name),
                vcpus: t.vcpus ?? image!.defaultVCPUs!, memoryMiB: t.memoryMiB ?? image!.defaultMemoryMiB!,
                profile: t.cpuShare.map(UsageProfile.init(cpuShare:)) ?? .balanced, offloadWhen: t.offloadWhen)
        }
        let usedImages = Set(taskList.map(\.image))
        return PolicySet(
            tiers: tierList, tasks: taskList, clouds: cloudList, servers: serverList, elastic: elastic,
            placementWeights: placementWeights,
            images: images.map { $0.values.filter { usedImages.contains($0.name) } } ?? [],
            sources: sources)
    }
}
