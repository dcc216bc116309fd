import Libvirt
import CVMProtocol
import Foundation
import Logging

/// `cvmctl migrate` in one value.
public struct MigrateRequest: Sendable {
    public var name: String
    public var destination: String
    public var bandwidthMiBs: UInt64?
    /// The longest switch-over pause allowed. 50 ms keeps the pause well under 100 ms for
    /// CVM-sized guests; QEMU's own default is 300 ms.
    public var maxDowntime: Duration
    /// Poll libvirt for the copy's progress (for a progress bar). Each poll is a query to
    /// the source QEMU on the same connection that drives the switch-over, so leave it off
    /// when nobody watches.
    public var reportProgress: Bool

    public static let defaultMaxDowntime: Duration = .milliseconds(50)

    public init(name: String, destination: String, bandwidthMiBs: UInt64? = nil,
                maxDowntime: Duration = MigrateRequest.defaultMaxDowntime, reportProgress: Bool = true) {
        self.reportProgress = reportProgress
        self.name = name
        self.destination = destination
        self.bandwidthMiBs = bandwidthMiBs
        self.maxDowntime = maxDowntime
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

/// Live-migrates CVMs between hosts' ``Hypervisor``s.
package struct CVMMigrator: Sendable {
    let configuration: OrchestratorConfiguration
    let store: Store
    let catalog: ImageCatalog
    let hypervisors: any HypervisorProvider
    let journal: Journal
    let logger: Logger

    package init(configuration: OrchestratorConfiguration, store: Store, catalog: ImageCatalog,
                 hypervisors: any HypervisorProvider, journal: Journal, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.catalog = catalog
        self.hypervisors = hypervisors
        self.journal = journal
        self.logger = logger
    }

    var segment: CVMSegment { CVMSegment(subnet: configuration.cvmSubnet, store: store, hypervisors: hypervisors) }

    /// Live-migrates a running CVM to another host. It keeps running, keeps its id and
    /// secret, its disk is copied, and its heartbeats continue from the new host. On
    /// failure or cancellation the job is aborted, whatever was prepared on the
    /// destination is removed, and the CVM keeps running where it was.
    package func migrate(_ request: MigrateRequest, progress: @escaping @Sendable (MigrationProgress) -> Void = { _ in }) async throws -> MigrationResult {
        let clock = ContinuousClock()
        let began = clock.now
        guard let record = try await store.cvm(named: request.name) else { throw OrchestratorError.unknownCVM(request.name) }
        guard record.state == .running else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' is \(record.state.rawValue); only a running CVM can be migrated")
        }
        let source = try await store.requireHost(named: record.host)
        let destination = try await store.requireHost(named: request.destination)
        guard source.name != destination.name else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' already runs on '\(destination.name)'")
        }
        try store.checkCapacity(of: destination, for: record)
        guard let targetAddress = destination.address ?? configuration.localMigrationAddress else {
            throw OrchestratorError.invalidArgument("migrating to the local host needs the address remote hosts reach it at: set CVM_MIGRATION_ADDRESS")
        }
        // Both SSH-tunnelled connections at once: each costs a handshake.
        async let openedSource = hypervisors.hypervisor(for: source)
        async let openedDestination = hypervisors.hypervisor(for: destination)
        let (sourceHV, destinationHV) = try await (openedSource, openedDestination)
        logger.debug("migrate: connected", metadata: ["cvm.ms": "\(CVMDeployer.ms(clock.now - began))"])
        let free = await destinationHV.freeMemoryMiB()
        if free > 0 && free < UInt64(record.memoryMiB) {
            throw OrchestratorError.noCapacity(host: destination.name, reason: "\(free) MiB free, the CVM needs \(record.memoryMiB) MiB")
        }
        guard let domain = try await sourceHV.lookupDomain(named: record.domainName), await domain.isActive() else {
            throw OrchestratorError.invalidArgument("CVM '\(record.name)' has no running domain on '\(source.name)'; see `cvmctl status`")
        }

        // The intent first: a `migrate` killed from here on leaves it, and the next command
        // (or the monitor) finds where the domain really runs (``reconcileInterrupted()``).
        try await store.save(MigrationIntent(cvmID: record.id, name: record.name, source: source.name,
                                             destination: destination.name, startedAt: Date(),
                                             ownerPid: getpid(), ownerStart: ProcessLiveness.currentStart))
        try await store.update(cvmID: record.id) { r in
            r.state = .migrating
            r.ownerPid = getpid()
            r.ownerStart = ProcessLiveness.currentStart
        }
        await journal("migrate.start", cvm: record.name, host: source.name, "to \(destination.name) (max downtime \(request.maxDowntime.milliseconds) ms\(request.bandwidthMiBs.map { ", \($0) MiB/s" } ?? ""))")
        do {
            // Memory and disk (whose first block holds the CVM's secret) travel encrypted,
            // between hosts that prove they hold this orchestrator's certificates.
            progress(.phase("TLS credentials of \(source.name) and \(destination.name)"))
            try await ensureMigrationTLS(source: source, sourceHypervisor: sourceHV,
                                         destination: destination, destinationHypervisor: destinationHV)
            // A CVM with a NIC needs the segment at its destination, under the same
            // network name and with a tunnel to the hub, before the domain arrives there.
            if try await store.addressLease(cvmID: record.id) != nil {
                progress(.phase("CVM network on \(destination.name)"))
                try await segment.attach(destination)
            }
            progress(.phase("preparing \(destination.name)"))
            let options = try await prepareDestination(record: record, domain: domain, source: sourceHV, destination: destinationHV,
                                                       targetAddress: targetAddress, bandwidthMiBs: request.bandwidthMiBs) { done, total in
                progress(.transfer(done: done, total: total, what: "kernel to \(destination.name)"))
            }
            try await domain.setMaxDowntime(milliseconds: UInt64(max(1, request.maxDowntime.milliseconds)))

            let (completions, registration) = try await sourceHV.jobCompletions(ofDomain: record.domainName)
            defer { _ = registration }
            logger.debug("migrate: destination prepared", metadata: ["cvm.ms": "\(CVMDeployer.ms(clock.now - began))"])
            progress(.phase("migrating \(record.name) to \(destination.name)"))
            try await runMigration(domain: domain, to: destinationHV, options: options,
                                   progress: request.reportProgress ? progress : nil)
            // The event follows the end of the job closely; give it a moment.
            let stats = await Self.first(of: completions, within: .seconds(2))
            logger.debug("migrate: job done", metadata: ["cvm.ms": "\(CVMDeployer.ms(clock.now - began))"])

            // The source keeps no trace: its per-CVM volumes go (the domain was undefined there).
            try? await sourceHV.deleteVolumes(named: CVMVolumes.all(of: record))
            let total = CVMDeployer.ms(clock.now - began)
            // The CVM runs on the destination now: recorded even if this task was cancelled.
            let store = self.store
            try await withoutCancellation {
                try await store.update(cvmID: record.id) { r in
                    r.host = destination.name
                    r.state = .running
                    r.ownerPid = nil
                    r.ownerStart = nil
                    r.lastMigrationPauseMs = stats?.downtimeMs.map { Int($0) }
                    r.lastMigrationTotalMs = total
                }
                try await store.deleteIntent(cvmID: record.id)
            }
            await journal("migrate.done", cvm: record.name, host: destination.name,
                    "from \(source.name) in \(total) ms, pause \(stats?.downtimeMs.map { "\($0) ms" } ?? "unknown")")
            return MigrationResult(name: record.name, from: source.name, to: destination.name, pauseMs: stats?.downtimeMs,
                                   totalMs: total, dataTotalBytes: stats?.dataTotal)
        } catch {
            // The CVM stays on the source: undo what was prepared on the destination.
            let interrupted = error is CancellationError || (error as? LibvirtError)?.code == .operationAborted
            do {
                // Runs to its end even when the migration was cancelled (Ctrl-C).
                try await withoutCancellation {
                    if let leftover = try await destinationHV.lookupDomain(named: record.domainName) {
                        try? await leftover.destroy()
                        try? await leftover.undefine()
                    }
                    try await destinationHV.deleteVolumes(named: CVMVolumes.all(of: record))
                }
            } catch {
                logger.warning("could not clean the destination after a failed migration",
                               metadata: ["cvm.name": "\(record.name)", "cvm.error": "\(error)"])
            }
            let stillRunning = (try? await withoutCancellation { try await domain.state().isRunning }) ?? false
            let store = self.store, failure = "lost during migration: \(error)"
            _ = try? await withoutCancellation {
                try await store.update(cvmID: record.id) { r in
                    r.state = stillRunning ? .running : .failed
                    r.ownerPid = nil
                    r.ownerStart = nil
                    if !stillRunning { r.failure = failure }
                }
                try await store.deleteIntent(cvmID: record.id)
            }
            await journal("migrate.failed", cvm: record.name, host: source.name, interrupted ? "aborted by the operator" : "\(error)")
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
    func prepareDestination(record: CVMRecord, domain: any HypervisorDomain, source: any Hypervisor,
                            destination: any Hypervisor, targetAddress: String, bandwidthMiBs: UInt64?,
                            progress: @escaping @Sendable (Int64, Int64) -> Void) async throws -> MigrationOptions {
        var definition = try DomainDefinition(xml: try await domain.xml(migratable: true))
        var staged: [String] = []
        for (artifact, current) in [("kernel", definition.os.kernel), ("initrd", definition.os.initrd)] {
            let sha = ((current ?? "") as NSString).lastPathComponent
            guard sha.count == 64, Hex.decode(sha) != nil else {
                throw OrchestratorError.invalidArgument("CVM '\(record.name)' boots a \(artifact) outside the image cache (\(current ?? "none")); cannot move it")
            }
            if try await destination.hasCachedArtifact(sha256: sha) {
                staged.append(destination.cachedArtifactPath(sha256: sha))
                continue
            }
            // The destination lacks it: upload the catalog's copy, which must be that very build.
            let image = try catalog.verified(record.image)
            guard let path = image.path(of: artifact), image.sha256(of: artifact) == sha else {
                throw OrchestratorError.noCapacity(host: destination.hostName, reason: "it lacks the CVM's \(artifact) \(sha.prefix(12))… and the catalog's '\(record.image)' is a different build now; redeploy the CVM instead")
            }
            staged.append(try await destination.stageArtifact(at: path, sha256: sha, progress: progress))
        }
        let disk = try await destination.createVolume(named: CVMVolumes.disk(of: record),
                                                      capacityBytes: UInt64(record.diskMiB) << 20, contents: nil)
        definition.relocate(kernel: staged[0], initrd: staged[1], disks: ["vda": disk], consoleLog: CVMConsole.logPath(disk: disk, of: record))
        return MigrationOptions(destinationXML: definition.xml, migrateURI: "tcp://\(targetAddress)",
                                listenAddress: targetAddress, bandwidthMiBs: bandwidthMiBs, copyDisks: ["vda"], tls: true)
    }

    /// Runs the blocking migration while this task polls progress; cancelling this task
    /// aborts the migration job.
    private func runMigration(domain: any HypervisorDomain, to destination: any Hypervisor, options: MigrationOptions,
                              progress: (@Sendable (MigrationProgress) -> Void)?) async throws {
        let job = Task { try await domain.migrate(to: destination, options: options) }
        let poller = Task {
            guard let progress else { return }
            while !Task.isCancelled {
                if let p = try? await domain.jobProgress(), p.active, p.dataTotal > 0 {
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
                Task { try? await domain.abortJob() }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // Let the progress poller finish its last call before anything is torn down.
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
}

extension Store {
    /// Refuses a host that would exceed its declared vCPU or memory capacity.
    package func checkCapacity(of host: HostRecord, for cvm: CVMRecord) throws {
        guard host.hypervisorKinds.contains(cvm.virtType) else {
            throw OrchestratorError.noCapacity(host: host.name, reason: "it does not offer hypervisor kind '\(cvm.virtType)' (it offers: \(host.hypervisors.joined(separator: ", ")))")
        }
        let there = try cvms().filter { $0.host == host.name && $0.id != cvm.id }
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
