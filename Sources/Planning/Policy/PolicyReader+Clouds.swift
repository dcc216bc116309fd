extension PolicyReader {
    static let cloudKeys = ["trust", "hosts"]
    static let serverKeys = ["zone", "latitude", "longitude"]

    /// `clouds: {NAME: {trust: local|private|public, hosts: [HOST, ...]}}`
    mutating func readClouds(_ section: PolicyField, into draft: inout PolicyDraft) {
        for entry in namedEntries(of: section) {
            if let first = draft.clouds[entry.key] {
                report(.duplicate, at: entry.keyLocation, key: entry.path,
                       "cloud '\(entry.key)' is already defined at \(first.definition.location)")
                continue
            }
            var cloud = PolicyDraft.Cloud(definition: PolicyReference(name: entry.key, path: entry.path, location: entry.keyLocation))
            let f = fields(of: entry, allowed: Self.cloudKeys, required: ["trust", "hosts"])
            if let v = f["trust"] { cloud.trust = choice(v, of: HostTrust.self) }
            if let v = f["hosts"] {
                if let hosts = nameList(v) { cloud.hosts = hosts } else { cloud.incomplete = true }
                if cloud.hosts.isEmpty, v.value.sequence?.isEmpty == true {
                    report(.invalidValue, at: v.valueLocation, key: v.path, "a cloud needs at least one host")
                }
            }
            draft.clouds[entry.key] = cloud
        }
    }

    /// `servers: {NAME: {zone, latitude, longitude}}`
    mutating func readServers(_ section: PolicyField, into draft: inout PolicyDraft) {
        for entry in namedEntries(of: section) {
            if let first = draft.servers[entry.key] {
                report(.duplicate, at: entry.keyLocation, key: entry.path,
                       "server '\(entry.key)' is already defined at \(first.definition.location)")
                continue
            }
            var server = PolicyDraft.Server(definition: PolicyReference(name: entry.key, path: entry.path, location: entry.keyLocation))
            let f = fields(of: entry, allowed: Self.serverKeys, required: ["latitude", "longitude"])
            if let v = f["zone"] { server.zone = string(v) }
            if let v = f["latitude"] { server.latitude = number(v, "is not a latitude in -90...90") { (-90...90).contains($0) } }
            if let v = f["longitude"] { server.longitude = number(v, "is not a longitude in -180...180") { (-180...180).contains($0) } }
            draft.servers[entry.key] = server
        }
    }
}
