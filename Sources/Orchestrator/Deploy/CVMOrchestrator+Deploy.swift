import Libvirt
import CVMProtocol
import Foundation
import Logging

extension CVMOrchestrator {
    /// Deploys a CVM and returns once its agent's first authenticated heartbeat arrived.
    ///
    /// Idempotent: asking again for a running CVM with the same image and host returns it
    /// unchanged; a deploy interrupted by a crash is cleaned up and redone. On any failure
    /// (including timeout and cancellation) everything created is removed again.
    public func deploy(_ request: DeployRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> DeployResult {
        let clock = ContinuousClock()
        let began = clock.now
        let name = request.name ?? "\(request.image.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" })-\(Self.shortID())"
        guard Self.isValidName(name) else { throw OrchestratorError.invalidName(name) }

        // Checks that need no state: the image and its checksums, the host, libvirt.
        let image = try catalog.verified(request.image)
        let manifest = image.manifest
        let task = request.task ?? manifest.tasks.first ?? "idle"
        guard manifest.tasks.contains(task) else {
            throw OrchestratorError.invalidArgument("image '\(manifest.name)' cannot run task '\(task)' (it runs: \(manifest.tasks.joined(separator: ", ")))")
        }
        guard AgentConfig.Role(rawValue: request.role) != nil else {
            throw OrchestratorError.invalidArgument("invalid role '\(request.role)' (expected single, master or servant)")
        }
        let host = try host(named: request.host)
        let connection = try await LibvirtExecutor.run { try self.connection(to: host) }
        let virt = try await chooseVirtType(host: host, connection: connection, image: image)
        guard host.hypervisorKinds.contains(virt.type) else {
            throw OrchestratorError.noCapacity(host: host.name, reason: "it does not offer hypervisor kind '\(virt.type)' (it offers: \(host.hypervisors))")
        }
        guard manifest.hypervisors.contains(virt.type) else {
            throw OrchestratorError.invalidArgument("image '\(manifest.name)' does not support hypervisor kind '\(virt.type)' on host '\(host.name)' (it supports: \(manifest.hypervisors.joined(separator: ", ")))")
        }

        // Idempotency and crash recovery.
        if let existing = try await store.cvm(named: name) {
            switch existing.state {
            case .running where existing.image == manifest.name && existing.host == host.name:
                return DeployResult(cvm: existing, created: false, bootToHeartbeatMs: existing.deployMs ?? 0,
                                    totalMs: Self.ms(clock.now - began), virtTypeReason: virt.reason)
            case .deploying, .stopping:
                if let pid = existing.ownerPid, pid != getpid(), kill(pid, 0) == 0 {
                    throw OrchestratorError.deployInProgress(name: name, pid: pid)
                }
                progress("cleaning up an interrupted operation on \(name)")
                try await teardown(existing, reason: "cleanup of an interrupted operation")
            default:
                throw OrchestratorError.nameTaken(name)
            }
        }
        let domainName = Self.domainName(for: name)
        if try await LibvirtExecutor.run({ try connection.lookupDomain(name: domainName) }) != nil {
            throw OrchestratorError.nameTaken(name)
        }

        // Intent first: from here on a crash leaves a row that the next run cleans up.
        var secret = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = rng.next() }
        var record = CVMRecord(
            id: UUID().uuidString.lowercased(), name: name, image: manifest.name, imageVersion: manifest.version,
            task: task, role: request.role, cluster: request.cluster, host: host.name, domainName: domainName,
            state: .deploying, secret: Hex.encode(secret),
            vcpus: request.vcpus ?? manifest.defaults.vcpus, memoryMiB: request.memoryMiB ?? manifest.defaults.memoryMiB,
            diskMiB: request.diskMiB ?? manifest.defaults.diskMiB, intervalMs: configuration.heartbeatIntervalMs,
            virtType: virt.type, ownerPid: getpid(), createdAt: Date(), policyCommit: request.policyCommit)
        try await store.insert(record)
        journal("deploy.start", cvm: name, host: host.name, "deploying image \(manifest.name) \(manifest.version) (\(virt.type): \(virt.reason))", policyCommit: request.policyCommit)

        do {
            let config = try AgentConfig(id: record.id, name: name, task: task, role: AgentConfig.Role(rawValue: request.role)!,
                                         peers: request.peers, secret: secret, intervalMs: record.intervalMs)
            progress("staging image \(manifest.name) on \(host.name)")
            let pending = record
            let domain = try await LibvirtExecutor.run {
                try self.createDomain(record: pending, config: config, image: image, host: host, connection: connection)
            }
            progress("booting \(name) (\(virt.type))")
            let bootStart = clock.now
            try await LibvirtExecutor.run { try domain.start() }
            let heartbeat = try await waitForFirstHeartbeat(domain: domain, record: pending, secret: secret,
                                                            timeout: request.timeoutSeconds ?? configuration.deployTimeoutSeconds)
            let bootMs = Self.ms(clock.now - bootStart)
            let now = Date()
            record = try await store.update(cvmID: record.id) { r in
                r.state = .running
                r.ownerPid = nil
                r.startedAt = now
                r.deployMs = bootMs
                r.apply(heartbeat, at: now)
            } ?? record
            journal("deploy.done", cvm: name, host: host.name, "first heartbeat \(bootMs) ms after start", policyCommit: request.policyCommit)
            return DeployResult(cvm: record, created: true, bootToHeartbeatMs: bootMs,
                                totalMs: Self.ms(clock.now - began), virtTypeReason: virt.reason)
        } catch {
            let reason = (error is CancellationError) ? "interrupted" : "\(error)"
            logger.debug("deploy failed, rolling back", metadata: ["cvm.name": "\(name)", "cvm.error": "\(reason)"])
            do {
                try await teardown(record, reason: "rollback: \(reason)")
            } catch {
                logger.error("rollback failed", metadata: ["cvm.name": "\(name)", "cvm.error": "\(error)"])
            }
            throw error
        }
    }

    /// `kvm` or `qemu` for this host. Locally KVM is probed (see ``VirtTypeChooser``);
    /// remote hosts use what the configuration asks for, TCG by default.
    func chooseVirtType(host: HostRecord, connection: LibvirtConnection,
                        image: ImageCatalog.VerifiedImage) async throws -> (type: String, reason: String) {
        guard host.isLocal else {
            return (configuration.virtType == "kvm" ? "kvm" : "qemu", "remote host")
        }
        let stateDirectory = configuration.stateDirectory
        let requested = configuration.virtType
        return try await LibvirtExecutor.run {
            VirtTypeChooser.choose(requested: requested, cacheDirectory: stateDirectory) {
                guard let kernel = image.path(of: "kernel") else { return "image has no kernel" }
                return KVMBootProbe.run(connection: connection, kernel: kernel, workDirectory: stateDirectory)
            }
        }
    }

    /// Stages the kernel, writes the per-CVM initrd and the disk, defines the domain.
    func createDomain(record: CVMRecord, config: AgentConfig, image: ImageCatalog.VerifiedImage,
                      host: HostRecord, connection: LibvirtConnection) throws -> LibvirtDomain {
        let storage = HostStorage(host: host, connection: connection)
        let volumes = try createVolumes(record: record, config: config, image: image, storage: storage)
        let definition = DomainDefinition.cvm(record, owner: store.storeID, kernel: volumes.kernel, initrd: volumes.initrd,
                                              disk: volumes.disk, cmdline: image.manifest.boot.cmdline)
        return try connection.defineDomain(xml: definition.xml)
    }

    /// The kernel and initrd (staged in the host's content-addressed cache, shared by all
    /// CVMs of the image) and the CVM's own raw disk, whose first block carries its
    /// configuration (identity, role, peers, secret; see `ConfigBlock`), as paths.
    func createVolumes(record: CVMRecord, config: AgentConfig, image: ImageCatalog.VerifiedImage,
                       storage: HostStorage, progress: @Sendable (Int64, Int64) -> Void = { _, _ in })
        throws -> (kernel: String, initrd: String, disk: String) {
        guard let kernelPath = image.path(of: "kernel"), let kernelSHA = image.sha256(of: "kernel"),
              let initrdPath = image.path(of: "initrd"), let initrdSHA = image.sha256(of: "initrd") else {
            throw OrchestratorError.imageNotBuilt(image.manifest.name)
        }
        let kernel = try stageArtifact(storage: storage, path: kernelPath, sha256: kernelSHA, progress: progress)
        let initrd = try stageArtifact(storage: storage, path: initrdPath, sha256: initrdSHA, progress: progress)
        let disk = try storage.pool().createVolume(xml: StorageVolumeDefinition(
            name: HostStorage.diskVolume(record), capacityBytes: UInt64(record.diskMiB) << 20, format: "raw").xml)
        try disk.upload(ConfigBlock.encode(config))
        return (kernel, initrd, try disk.path)
    }

    /// Puts an artifact into the host's content-addressed cache: a local copy, or an SFTP
    /// upload when the remote host lacks a file with that sha256.
    func stageArtifact(storage: HostStorage, path: String, sha256: String,
                       progress: @Sendable (Int64, Int64) -> Void = { _, _ in }) throws -> String {
        guard storage.host.isLocal else {
            let target = (storage.cachePath as NSString).appendingPathComponent(sha256)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? -1
            if storage.cached(sha256: sha256, bytes: bytes) { return target }
            let staged = try RemoteAccess(host: storage.host, knownHosts: knownHostsPath(storage.host.name))
                .stage(artifact: path, sha256: sha256, progress: progress)
            _ = try? storage.imagesPool() // make the new file visible to the next check
            return staged
        }
        return try storage.stageLocally(artifact: path, sha256: sha256)
    }

    /// Opens the agent channel and waits for the first heartbeat that authenticates.
    func waitForFirstHeartbeat(domain: LibvirtDomain, record: CVMRecord, secret: [UInt8], timeout: Double) async throws -> Heartbeat {
        let channel = try await LibvirtExecutor.run { try AgentChannel(domain: domain, cvmID: record.id, secret: secret) }
        defer { channel.close() }
        let name = record.name
        return try await withThrowingTaskGroup(of: Heartbeat?.self) { group in
            group.addTask {
                var lastProblem = ""
                for await event in channel.events {
                    switch event {
                    case .heartbeat(let hb, _): return hb
                    case .rejected(let why): lastProblem = why
                    case .closed(let why): lastProblem = why
                    default: continue
                    }
                }
                if Task.isCancelled { return nil }
                throw OrchestratorError.agentRejected(name: name, reason: "agent channel ended before a valid heartbeat (\(lastProblem))")
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let hb = result { return hb }
                try Task.checkCancellation()
                let state = (try? domain.state().description) ?? "unknown"
                throw OrchestratorError.deployTimeout(name: name, seconds: timeout, hint: "domain state: \(state)")
            }
            throw CancellationError()
        }
    }

    static func ms(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }

    static func shortID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String(format: "%04x", UInt16.random(in: 0...UInt16.max, using: &rng))
    }
}

extension CVMRecord {
    /// Copies a heartbeat's usage into the record.
    mutating func apply(_ hb: Heartbeat, at now: Date) {
        lastHeartbeatAt = now
        bootNonce = String(hb.boot, radix: 16)
        lastSeq = Int64(clamping: hb.seq)
        agentStatus = hb.status.rawValue
        cpuPercent = hb.cpuPercent
        memUsedKiB = Int64(clamping: hb.memUsedKiB)
        memTotalKiB = Int64(clamping: hb.memTotalKiB)
        diskReadBytes = Int64(clamping: hb.diskReadBytes)
        diskWriteBytes = Int64(clamping: hb.diskWriteBytes)
        netRxBytes = Int64(clamping: hb.netRxBytes)
        netTxBytes = Int64(clamping: hb.netTxBytes)
        connections = Int64(clamping: hb.connections)
        agentRole = hb.role.rawValue
    }
}
