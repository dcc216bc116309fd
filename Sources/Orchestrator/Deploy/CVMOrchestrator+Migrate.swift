import Libvirt
import CVMProtocol
import Foundation
import Synchronization

/// `cvmctl migrate` in one value.
public struct MigrateRequest: Sendable {
    public var name: String
    public var destination: String
    public var bandwidthMiBs: UInt64?
    /// The longest switch-over pause allowed. 50 ms keeps the pause well under 100 ms for
    /// CVM-sized guests; QEMU's own default is 300 ms.
    public var maxDowntimeMs: UInt64
    /// Poll libvirt for the copy's progress (for a progress bar). Each poll is a query to
    /// the source QEMU on the same connection that drives the switch-over, so leave it off
    /// when nobody watches.
    public var reportProgress: Bool

    public static let defaultMaxDowntimeMs: UInt64 = 50

    public init(name: String, destination: String, bandwidthMiBs: UInt64? = nil,
                maxDowntimeMs: UInt64 = MigrateRequest.defaultMaxDowntimeMs, reportProgress: Bool = true) {
        self.reportProgress = reportProgress
        self.name = name
        self.destination = destination
        self.bandwidthMiBs = bandwidthMiBs
        self.maxDowntimeMs = maxDowntimeMs
    }
}

public struct MigrationResult: Sendable, Codable {
    public var name: String
    public var from: String
    public var to: String
    /// The guest's pause at switch-over, from libvirt's job-completed event.
    public var pauseMs: UInt64?
    public var totalMs: Int
    public var dataTotalBytes: UInt64?
}

public enum MigrationProgress: Sendable {
    case phase(String)
    case transfer(done: Int64, total: Int64, what: String)
    case copying(remaining: UInt64, total: UInt64)
}

extension CVMOrchestrator {
    /// Live-migrates a running CVM to another host. It keeps running, keeps its id and
    /// secret, its disk is copied, and its heartbeats continue from the new host. On
    /// failure or cancellation the job is aborted, whatever was prepared on the
    /// destination is removed, and the CVM keeps running where it was.
    public func migrate(_ request: MigrateRequest, progress: @escaping @Sendable (MigrationProgress) -> Void = { _ in }) async throws -> MigrationResult {
        let clock = ContinuousClock()
        let began = clock.now
        guard let record = try await store.cvm(named: request.name) else { throw OrchestratorError.unknownCVM(request.name) }
        guard record.state == .running else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' is \(record.state.rawValue); only a running CVM can be migrated")
        }
        let source = try host(named: record.host)
        let destination = try host(named: request.destination)
        guard source.name != destination.name else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' already runs on '\(destination.name)'")
        }
        try checkCapacity(of: destination, for: record)
        guard let targetAddress = destination.address ?? configuration.localMigrationAddress else {
            throw OrchestratorError.invalidArgument("migrating to the local host needs the address remote hosts reach it at: set CVM_MIGRATION_ADDRESS")
        }
        // Both SSH-tunnelled connections at once: each costs a handshake.
        async let openedSource = LibvirtExecutor.run { try self.connection(to: source) }
        async let openedDestination = LibvirtExecutor.run { try self.connection(to: destination) }
        let (sourceConnection, destinationConnection) = try await (openedSource, openedDestination)
        logger.debug("migrate: connected", metadata: ["cvm.ms": "\(Self.ms(clock.now - began))"])
        let free = destinationConnection.freeMemory() / (1 << 20)
        if free > 0 && free < UInt64(record.memoryMiB) {
            throw OrchestratorError.noCapacity(host: destination.name, reason: "\(free) MiB free, the CVM needs \(record.memoryMiB) MiB")
        }
        guard let domain = try await LibvirtExecutor.run({ try sourceConnection.lookupDomain(name: record.domainName) }),
              domain.isActive else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' has no running domain on '\(source.name)'; see `cvmctl status`")
        }

        try await store.update(cvmID: record.id) { r in
            r.state = .migrating
            r.ownerPid = getpid()
        }
        journal("migrate.start", cvm: record.name, host: source.name, "to \(destination.name) (max downtime \(request.maxDowntimeMs) ms\(request.bandwidthMiBs.map { ", \($0) MiB/s" } ?? ""))")
        let destinationStorage = HostStorage(host: destination, connection: destinationConnection)
        do {
            logger.debug("migrate: checks done", metadata: ["cvm.ms": "\(Self.ms(clock.now - began))"])
            progress(.phase("preparing \(destination.name)"))
            let sourceStorage = HostStorage(host: source, connection: sourceConnection)
            let options = try await prepareDestination(record: record, domain: domain, source: sourceStorage,
                                                       destination: destination, storage: destinationStorage,
                                                       targetAddress: targetAddress, bandwidthMiBs: request.bandwidthMiBs) { done, total in
                progress(.transfer(done: done, total: total, what: "kernel to \(destination.name)"))
            }
            try await LibvirtExecutor.run { try domain.setMaxDowntime(milliseconds: request.maxDowntimeMs) }

            let (completions, completion) = AsyncStream.makeStream(of: JobCompleted.self)
            let registration = try sourceConnection.onJobCompleted { event in
                if event.domainName == record.domainName { completion.yield(event) }
            }
            defer { _ = registration }
            logger.debug("migrate: destination prepared", metadata: ["cvm.ms": "\(Self.ms(clock.now - began))"])
            progress(.phase("migrating \(record.name) to \(destination.name)"))
            try await runMigration(domain: domain, to: destinationConnection, options: options,
                                   progress: request.reportProgress ? progress : nil)
            // The event follows the end of the job closely; give it a moment.
            let stats = await Self.first(of: completions, within: .seconds(2))
            logger.debug("migrate: job done", metadata: ["cvm.ms": "\(Self.ms(clock.now - began))"])

            // The source keeps no trace: its per-CVM volumes go (the domain was undefined there).
            try? await LibvirtExecutor.run {
                let pool = try sourceStorage.pool()
                for v in HostStorage.volumes(record) {
                    try pool.lookupVolume(name: v)?.delete()
                }
            }
            let total = Self.ms(clock.now - began)
            // The CVM runs on the destination now: recorded even if this task was cancelled.
            let store = self.store
            try await withoutCancellation {
                try await store.update(cvmID: record.id) { r in
                    r.host = destination.name
                    r.state = .running
                    r.ownerPid = nil
                    r.lastMigrationPauseMs = stats?.downtimeMs.map { Int($0) }
                    r.lastMigrationTotalMs = total
                }
            }
            journal("migrate.done", cvm: record.name, host: destination.name,
                    "from \(source.name) in \(total) ms, pause \(stats?.downtimeMs.map { "\($0) ms" } ?? "unknown")")
            return MigrationResult(name: record.name, from: source.name, to: destination.name, pauseMs: stats?.downtimeMs,
                                   totalMs: total, dataTotalBytes: stats?.dataTotal)
        } catch {
            // The CVM stays on the source: undo what was prepared on the destination.
            let interrupted = error is CancellationError || (error as? LibvirtError)?.code == .operationAborted
            do {
                try await LibvirtExecutor.run {
                    if let leftover = try destinationConnection.lookupDomain(name: record.domainName) {
                        try? leftover.destroy()
                        try? leftover.undefine()
                    }
                    let pool = try destinationStorage.pool()
                    for v in HostStorage.volumes(record) {
                        try pool.lookupVolume(name: v)?.delete()
                    }
                }
            } catch {
                logger.warning("could not clean the destination after a failed migration",
                               metadata: ["cvm.name": "\(record.name)", "cvm.error": "\(error)"])
            }
            let stillRunning = (try? await LibvirtExecutor.run { try domain.state().isRunning }) ?? false
            let store = self.store, failure = "lost during migration: \(error)"
            _ = try? await withoutCancellation {
                try await store.update(cvmID: record.id) { r in
                    r.state = stillRunning ? .running : .failed
                    r.ownerPid = nil
                    if !stillRunning { r.failure = failure }
                }
            }
            journal("migrate.failed", cvm: record.name, host: source.name, interrupted ? "aborted by the operator" : "\(error)")
            if interrupted {
                throw OrchestratorError.interrupted("migration of '\(record.name)' aborted; it still runs on '\(source.name)'")
            }
            if let e = error as? OrchestratorError, case .hostUnreachable = e { throw e }
            if let e = error as? OrchestratorError, case .hostRefused = e { throw e }
            throw OrchestratorError.migrationFailed(name: record.name, reason: "\(error)")
        }
    }

    /// Puts the CVM's files on the destination and builds the migration settings with the
    /// destination's paths and literal addresses: the kernel and initrd into the
    /// content-addressed cache (uploaded only when missing there — a cache file's name is its
    /// sha256, so the CVM keeps the very build it booted), and an empty raw disk of the same
    /// size, which the migration fills (configuration block included).
    func prepareDestination(record: CVMRecord, domain: LibvirtDomain, source: HostStorage,
                            destination: HostRecord, storage: HostStorage, targetAddress: String, bandwidthMiBs: UInt64?,
                            progress: @escaping @Sendable (Int64, Int64) -> Void) async throws -> MigrationOptions {
        let sourceXML = try await LibvirtExecutor.run { try domain.xml(migratable: true) }
        var definition = try DomainDefinition(xml: sourceXML)
        let catalog = self.catalog
        let booted = [("kernel", definition.os.kernel), ("initrd", definition.os.initrd)]
        let paths = try await LibvirtExecutor.run { () -> (kernel: String, initrd: String, disk: String) in
            var staged: [String] = []
            for (artifact, current) in booted {
                let sha = ((current ?? "") as NSString).lastPathComponent
                guard sha.count == 64, Hex.decode(sha) != nil else {
                    throw OrchestratorError.invalidArgument("CVM '\(record.name)' boots a \(artifact) outside the image cache (\(current ?? "none")); cannot move it")
                }
                if let size = try source.imagesPoolVolumeSize(sha), storage.cached(sha256: sha, bytes: Int64(size)) {
                    staged.append((storage.cachePath as NSString).appendingPathComponent(sha))
                    continue
                }
                // The destination lacks it: upload the catalog's copy, which must be that very build.
                let image = try catalog.verified(record.image)
                guard let path = image.path(of: artifact), image.sha256(of: artifact) == sha else {
                    throw OrchestratorError.noCapacity(host: destination.name, reason: "it lacks the CVM's \(artifact) \(sha.prefix(12))… and the catalog's '\(record.image)' is a different build now; redeploy the CVM instead")
                }
                staged.append(try self.stageArtifact(storage: storage, path: path, sha256: sha, progress: progress))
            }
            let disk = try storage.pool().createVolume(xml: StorageVolumeDefinition(
                name: HostStorage.diskVolume(record), capacityBytes: UInt64(record.diskMiB) << 20, format: "raw").xml)
            return (staged[0], staged[1], try disk.path)
        }
        definition.relocate(kernel: paths.kernel, initrd: paths.initrd, disks: ["vda": paths.disk])
        return MigrationOptions(destinationXML: definition.xml, migrateURI: "tcp://\(targetAddress)",
                                listenAddress: targetAddress, bandwidthMiBs: bandwidthMiBs, copyDisks: ["vda"])
    }

    /// Runs the blocking migration on the libvirt queue while this task polls progress;
    /// cancelling this task aborts the migration job.
    private func runMigration(domain: LibvirtDomain, to destination: LibvirtConnection, options: MigrationOptions,
                              progress: (@Sendable (MigrationProgress) -> Void)?) async throws {
        let job = Task { try await LibvirtExecutor.run { _ = try domain.migrate(to: destination, options: options) } }
        let poller = Task {
            guard let progress else { return }
            while !Task.isCancelled {
                if let p = try? await LibvirtExecutor.run({ try domain.jobProgress() }), p.active, p.dataTotal > 0 {
                    progress(.copying(remaining: p.dataRemaining, total: p.dataTotal))
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        let outcome: Result<Void, any Error>
        do {
            try await withTaskCancellationHandler {
                try await job.value
            } onCancel: {
                // Off the canceller's thread: abortJob blocks on libvirtd.
                Task { try? await LibvirtExecutor.run { try domain.abortJob() } }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // Let the progress poller finish its last libvirt call before anything is torn down.
        poller.cancel()
        await poller.value
        try outcome.get()
        try Task.checkCancellation()
    }

    /// The first element of `stream`, or nil when none comes within `limit`.
    static func first<T: Sendable>(of stream: AsyncStream<T>, within limit: Duration) async -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await stream.first { _ in true } }
            group.addTask { try? await Task.sleep(for: limit); return nil }
            let result = await group.next() ?? nil
            group.cancelAll()
            return result
        }
    }

    /// Refuses a host that would exceed its declared vCPU or memory capacity.
    func checkCapacity(of host: HostRecord, for cvm: CVMRecord) throws {
        guard host.hypervisorKinds.contains(cvm.virtType) else {
            throw OrchestratorError.noCapacity(host: host.name, reason: "it does not offer hypervisor kind '\(cvm.virtType)' (it offers: \(host.hypervisors))")
        }
        let there = try store.cvms().filter { $0.host == host.name && $0.id != cvm.id }
        if host.cpus > 0 {
            let used = there.reduce(0) { $0 + $1.vcpus }
            if used + cvm.vcpus > host.cpus {
                throw OrchestratorError.noCapacity(host: host.name, reason: "\(used) of \(host.cpus) vCPUs in use, the CVM needs \(cvm.vcpus)")
            }
        }
        if host.memoryMiB > 0 {
            let used = there.reduce(0) { $0 + $1.memoryMiB }
            if used + cvm.memoryMiB > host.memoryMiB {
                throw OrchestratorError.noCapacity(host: host.name, reason: "\(used) of \(host.memoryMiB) MiB in use, the CVM needs \(cvm.memoryMiB) MiB")
            }
        }
    }
}
