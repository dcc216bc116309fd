extension PolicyReader {
    static let taskKeys = [
        "image", "tier", "thresholds", "minCVMs", "maxCVMs", "clusterSize", "serves", "preferredHosts",
        "vcpus", "memoryMiB", "cpuShare", "offloadWhen",
    ]

    /// `tasks: {NAME: {image, tier, thresholds: {RESOURCE: N}, minCVMs, maxCVMs, clusterSize,
    /// serves, preferredHosts, vcpus, memoryMiB, cpuShare, offloadWhen: [RESOURCE]}}`
    mutating func readTasks(_ section: PolicyField, into draft: inout PolicyDraft) {
        for entry in namedEntries(of: section) {
            if let first = draft.tasks[entry.key] {
                report(.duplicate, at: entry.keyLocation, key: entry.path,
                       "task '\(entry.key)' is already defined at \(first.definition.location)")
                continue
            }
            var task = PolicyDraft.Task(definition: PolicyReference(name: entry.key, path: entry.path, location: entry.keyLocation))
            let errorsBefore = diagnostics.count
            let f = fields(of: entry, allowed: Self.taskKeys, required: ["image", "tier", "maxCVMs"])
            if let v = f["image"] { task.image = reference(v) }
            if let v = f["tier"] { task.tier = reference(v) }
            if let v = f["thresholds"] {
                let resources = UsageResource.planned.map(\.rawValue)
                for (key, threshold) in fields(of: v, allowed: resources) {
                    if let value = number(threshold, "must be > 0", valid: { $0 > 0 }) {
                        task.thresholds[UsageResource(rawValue: key)!] = value
                    }
                }
            }
            if let v = f["minCVMs"] { task.minCVMs = int(v, in: 0...Int.max) }
            if let v = f["maxCVMs"] { task.maxCVMs = int(v, in: 1...Int.max) }
            if let v = f["clusterSize"] {
                task.clusterSize = int(v, in: 1...Int.max)
                task.clusterSizeLocation = v.valueLocation
            }
            if let v = f["serves"] { task.serves = nameList(v) ?? [] }
            if let v = f["preferredHosts"] { task.preferredHosts = nameList(v) ?? [] }
            if let v = f["vcpus"] { task.vcpus = int(v, in: 1...Int.max) }
            if let v = f["memoryMiB"] { task.memoryMiB = int(v, in: 1...Int.max) }
            if let v = f["cpuShare"] { task.cpuShare = number(v, "is not a share in 0...1") { (0...1).contains($0) } }
            if let v = f["offloadWhen"], let names = nameList(v) {
                for name in names {
                    guard let resource = UsageResource(rawValue: name.name), UsageResource.planned.contains(resource) else {
                        report(.invalidValue, at: name.location, key: name.path,
                               "'\(name.name)' is not a resource; one of: \(UsageResource.planned.map(\.rawValue).joined(separator: ", "))")
                        continue
                    }
                    task.offloadWhen.append(resource)
                }
            }
            task.incomplete = diagnostics.count > errorsBefore
            draft.tasks[entry.key] = task
        }
    }
}
