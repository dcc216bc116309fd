import Planning
extension CVMOrchestrator {
    /// What policies are validated against here: every image of the catalog whose manifest
    /// reads (its hypervisor kinds, default size and tasks) and every host of the registry.
    public func policyContext() throws -> PolicyContext {
        var images: [ImageProfile] = []
        for name in catalog.names() {
            guard let manifest = try? catalog.manifest(name) else { continue }  // a broken manifest is its own error at deploy
            images.append(ImageProfile(
                name: manifest.name, hypervisors: HypervisorSet(names: manifest.hypervisors) ?? .all,
                defaultVCPUs: manifest.defaults.vcpus, defaultMemoryMiB: manifest.defaults.memoryMiB,
                tasks: Set(manifest.tasks)))
        }
        return PolicyContext(images: images, knownHosts: Set(try store.hosts().map(\.name)))
    }

    /// The policy source for `repository`, validated against this orchestrator's catalog and
    /// host registry.
    public func policySource(_ repository: PolicyRepository) throws -> PolicySource {
        PolicySource(repository: repository, context: try policyContext())
    }
}

extension CVMOrchestrator {
    /// The validated policies of `ref` for a one-off command (`policy plan`, `policy apply`).
    /// An invalid commit throws ``PolicySourceError/invalid(commit:ref:error:inForce:)`` naming
    /// the commit that stays in force; with `refusalJournaled` the refusal is journaled
    /// (`policy.refused`).
    public func policyRevision(_ repository: PolicyRepository, ref: String, refusalJournaled: Bool) async throws -> PolicyRevision {
        let source = try policySource(repository)
        let candidate = try await GitCommand.offPool { try source.candidate(at: ref) }
        if let revision = candidate.revision { return revision }
        let error = candidate.validationError!
        let inForce = try await store.appliedPolicy()?.commit
        if refusalJournaled {
            let count = error.diagnostics.count
            await journal("policy.refused",
                    "apply: commit \(candidate.commit.prefix(12)) (\(ref)) refused, \(count) error\(count == 1 ? "" : "s"): \(error.diagnostics[0].brief)\(count > 1 ? " …" : ""); \(inForce.map { "policy \($0.prefix(12)) stays in force" } ?? "no policy in force yet")",
                    policyCommit: inForce)
        }
        throw PolicySourceError.invalid(commit: candidate.commit, ref: ref, error: error, inForce: inForce)
    }
}
