import CVMProtocol
import Foundation
import Libvirt
import Logging

/// Deploys, decommissions and tears down CVMs on any host's ``Hypervisor``.
///
/// Every deploy writes its intent (a `deploying` row) before it creates anything, and every
/// failure — an error at any step, a timeout, cancellation — removes what was created: the
/// domain, the CVM's volumes and the row.
package struct CVMDeployer: Sendable {
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

    /// Deploys a CVM and returns once its agent's first authenticated heartbeat arrived.
    ///
    /// Idempotent: asking again for a running CVM with the same image and host returns it
    /// unchanged; a deploy interrupted by a crash is cleaned up and redone. On any failure
    /// (including timeout and cancellation) everything created is removed again.
    package func deploy(_ request: DeployRequest, progress: @Sendable (String) -> Void = { _ in }) async throws -> DeployResult {
        let clock = ContinuousClock()
        let began = clock.now
        let name = request.name ?? "\(request.image.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" })-\(CVMNaming.shortID())"
        guard CVMNaming.isValid(name) else { throw OrchestratorError.invalidName(name) }

        // Checks that need no state: the image and its checksums, the host, libvirt.
        let image = try catalog.verified(request.image)
        let manifest = image.manifest
        let task = request.task ?? manifest.tasks.first ?? "idle"
        guard manifest.tasks.contains(task) else {
            throw OrchestratorError.invalidArgument("image '\(manifest.name)' cannot run task '\(task)' (it runs: \(manifest.tasks.joined(separator: ", ")))")
        }
        let role = request.role
        let host = try await store.requireHost(named: request.host)
        let hypervisor = try await hypervisors.hypervisor(for: host)
        let virt = try await chooseVirtType(host: host, hypervisor: hypervisor, image: image)
        guard host.hypervisorKinds.contains(virt.type) else {
            throw OrchestratorError.noCapacity(host: host.name, reason: "it does not offer hypervisor kind '\(virt.type)' (it offers: \(host.hypervisors.joined(separator: ", ")))")
        }
        guard manifest.hypervisors.contains(virt.type) else {
            throw OrchestratorError.invalidArgument("image '\(manifest.name)' does not support hypervisor kind '\(virt.type)' on host '\(host.name)' (it supports: \(manifest.hypervisors.joined(separator: ", ")))")
        }

        let domainName = CVMNaming.domainName(for: name)
        var secret = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in secret.indices { secret[i] = rng.next() }
        var record = CVMRecord(
            id: UUID().uuidString.lowercased(), name: name, image: manifest.name, imageVersion: manifest.version,
            task: task, role: request.role, cluster: request.cluster, host: host.name, domainName: domainName,
            state: .deploying, secret: Hex.encode(secret),
            vcpus: request.vcpus ?? manifest.defaults.vcpus, memoryMiB: request.memoryMiB ?? manifest.defaults.memoryMiB,
            diskMiB: request.diskMiB ?? manifest.defaults.diskMiB, intervalMs: configuration.heartbeatIntervalMs,
            virtType: virt.type, ownerPid: getpid(), ownerStart: ProcessLiveness.currentStart, createdAt: Date(),
            policyCommit: request.policyCommit)
        _ = ActiveOperations.begin(record.id) // a fresh id: always free
        defer { ActiveOperations.end(record.id) }

        // Idempotency, crash recovery, then intent: from the insert on, a crash leaves a row
        // that the next run cleans up. A concurrent deploy of the same name may insert between
        // our look and our insert: then we look again and see what it is doing.
        var lostRace = false
        while true {
            if let existing = try await settleExisting(named: name, for: record, progress: progress) {
                return DeployResult(cvm: existing, created: false, bootToHeartbeatMs: existing.deployMs ?? 0,
                                    totalMs: Self.ms(clock.now - began), virtTypeReason: virt.reason)
            }
            do {
                try await store.insert(record)
                break
            } catch OrchestratorError.nameTaken(name) where !lostRace {
                lostRace = true
            }
        }
        // The name is ours in the store, so a domain of that name is none of this store's
        // deploys: leave it alone and give the name back.
        do {
            if try await hypervisor.lookupDomain(named: domainName) != nil {
                throw OrchestratorError.domainExists(name: name, domain: domainName, host: host.name)
            }
        } catch {
            let store = self.store
            let id = record.id
            try? await withoutCancellation { try await store.deleteCVM(id: id) }
            throw error
        }
        await journal("deploy.start", cvm: name, host: host.name, "deploying image \(manifest.name) \(manifest.version) (\(virt.type): \(virt.reason))", policyCommit: request.policyCommit)

        do {
            // Its NIC: the host joins the segment (idempotent), the store leases an address
            // (released with the row, also by the rollback below).
            progress("CVM network on \(host.name)")
            try await segment.attach(host)
            let lease = try await store.leaseAddress(cvmID: record.id, in: configuration.cvmSubnet)
            let network = try AgentConfig.Network(address: IPv4Subnet.parseAddress(lease.address) ?? 0,
                                                  prefixLength: configuration.cvmSubnet.prefixLength, mac: lease.mac)
            let config = try AgentConfig(id: record.id, name: name, task: task, role: role,
                                         peers: request.peers, secret: secret, intervalMs: record.intervalMs,
                                         network: network)
            // Its TLS certificate for that address (used when its data plane runs on a public
            // host): on its disk with the secret, nowhere else.
            let credentials = try DataPlaneTLS(stateDirectory: configuration.stateDirectory)
                .credentials(cvm: name, address: lease.address)
            progress("staging image \(manifest.name) on \(host.name)")
            let domain = try await createDomain(record: record, config: config, image: image, on: hypervisor, lease: lease,
                                                credentials: credentials)
            progress("booting \(name) (\(virt.type))")
            let bootStart = clock.now
            try await domain.start()
            let heartbeat = try await waitForFirstHeartbeat(domain: domain, record: record, secret: secret,
                                                            timeout: request.timeout ?? configuration.deployTimeout)
            let bootMs = Self.ms(clock.now - bootStart)
            let now = Date()
            record = try await store.update(cvmID: record.id) { r in
                r.state = .running
                r.ownerPid = nil
                r.ownerStart = nil
                r.startedAt = now
                r.deployMs = bootMs
                r.apply(heartbeat, at: now)
            } ?? record
            await journal("deploy.done", cvm: name, host: host.name, "first heartbeat \(bootMs) ms after start", policyCommit: request.policyCommit)
            return DeployResult(cvm: record, created: true, bootToHeartbeatMs: bootMs,
                                totalMs: Self.ms(clock.now - began), virtTypeReason: virt.reason)
        } catch {
            let reason = (error is CancellationError) ? "interrupted" : "\(error)"
            logger.debug("deploy failed, rolling back", metadata: ["cvm.name": "\(name)", "cvm.error": "\(reason)"])
            do {
                // Also when cancelled (Ctrl-C): the rollback itself must run to its end, and the
                // blocking pools refuse work from a cancelled task.
                let pending = record
                try await withoutCancellation { try await self.teardown(pending, reason: "rollback: \(reason)") }
            } catch {
                logger.error("rollback failed", metadata: ["cvm.name": "\(name)", "cvm.error": "\(error)"])
            }
            throw error
        }
    }

    /// Settles a CVM row that already carries the name. Returns it when it is the very CVM
    /// asked for, running (the deploy is a no-op); nil when the name is free (again): the
    /// row was an interrupted operation (torn down) or a failed CVM of the same definition
    /// (torn down, to be deployed anew).
    /// - Throws: `deployInProgress` while another operation works on it, `nameTaken` when it
    ///   is another CVM (a different image, host or cluster).
    func settleExisting(named name: String, for wanted: CVMRecord,
                        progress: @Sendable (String) -> Void) async throws -> CVMRecord? {
        guard let existing = try await store.cvm(named: name) else { return nil }
        if existing.state != .running, existing.state != .failed, ActiveOperations.isInProgress(existing),
           let pid = existing.ownerPid {
            throw OrchestratorError.deployInProgress(name: name, pid: pid)
        }
        let sameHostAndImage = existing.image == wanted.image && existing.host == wanted.host
        switch existing.state {
        case .running where sameHostAndImage:
            return existing
        case .deploying, .stopping:
            progress("cleaning up an interrupted operation on \(name)")
            try await teardown(existing, reason: "cleanup of an interrupted operation")
            return nil
        case .failed where sameHostAndImage && existing.cluster == wanted.cluster:
            try await replaceFailed(existing, progress: progress)
            return nil
        case .migrating:
            throw OrchestratorError.invalidArgument("CVM '\(name)' was left half-migrated by a process that ended; see `cvmctl status`, then decommission it or migrate it again")
        default:
            throw OrchestratorError.nameTaken(name)
        }
    }

    /// Tears down a failed CVM so that a deploy of the same definition can replace it. The
    /// row is claimed first (failed → stopping, owned by this process, in one transaction),
    /// so of two deploys replacing it only one tears it down; the other is told who does.
    func replaceFailed(_ failed: CVMRecord, progress: @Sendable (String) -> Void) async throws {
        guard ActiveOperations.begin(failed.id) else {
            throw OrchestratorError.deployInProgress(name: failed.name, pid: getpid())
        }
        defer { ActiveOperations.end(failed.id) }
        let pid = getpid()
        let start = ProcessLiveness.currentStart
        let claimed = try await store.update(cvmID: failed.id) { r in
            guard r.state == .failed else { return }
            r.state = .stopping
            r.ownerPid = pid
            r.ownerStart = start
        }
        guard let claimed else { return } // removed meanwhile: the name is free
        guard claimed.state == .stopping, claimed.ownerPid == pid else {
            if let owner = claimed.ownerPid, ActiveOperations.isInProgress(claimed) {
                throw OrchestratorError.deployInProgress(name: failed.name, pid: owner)
            }
            throw OrchestratorError.nameTaken(failed.name)
        }
        progress("replacing failed CVM \(failed.name)")
        try await teardown(claimed, reason: "replaced: it had failed and was deployed again with the same definition")
    }

    /// `kvm` or `qemu` for this host. Locally KVM is probed (see ``VirtTypeChooser``);
    /// remote hosts use what the configuration asks for, TCG by default.
    func chooseVirtType(host: HostRecord, hypervisor: any Hypervisor,
                        image: ImageCatalog.VerifiedImage) async throws -> (type: String, reason: String) {
        guard host.isLocal else {
            return (configuration.virtType == .kvm ? "kvm" : "qemu", "remote host")
        }
        let stateDirectory = configuration.stateDirectory
        let requested = configuration.virtType.rawValue
        return try await LibvirtExecutor.run {
            VirtTypeChooser.choose(requested: requested, cacheDirectory: stateDirectory) {
                guard let kernel = image.path(of: "kernel") else { return "image has no kernel" }
                return hypervisor.kvmBootProblem(kernel: kernel, workDirectory: stateDirectory)
            }
        }
    }

    /// Stages the kernel and initrd, writes the CVM's disk, defines the domain.
    func createDomain(record: CVMRecord, config: AgentConfig, image: ImageCatalog.VerifiedImage,
                      on hypervisor: any Hypervisor, lease: AddressLease? = nil,
                      credentials: [(name: String, text: String)] = []) async throws -> any HypervisorDomain {
        let volumes = try await createVolumes(record: record, config: config, image: image, on: hypervisor, credentials: credentials)
        let definition = DomainDefinition.cvm(record, owner: store.storeID, kernel: volumes.kernel, initrd: volumes.initrd,
                                              disk: volumes.disk, cmdline: image.manifest.boot.cmdline, lease: lease)
        return try await hypervisor.defineDomain(definition)
    }

    /// The kernel and initrd (staged in the host's content-addressed cache, shared by all
    /// CVMs of the image) and the CVM's own raw disk, whose first block carries its
    /// configuration (identity, role, peers, secret; see `ConfigBlock`), as paths.
    func createVolumes(record: CVMRecord, config: AgentConfig, image: ImageCatalog.VerifiedImage,
                       on hypervisor: any Hypervisor, credentials: [(name: String, text: String)] = [],
                       progress: @escaping @Sendable (Int64, Int64) -> Void = { _, _ in })
        async throws -> (kernel: String, initrd: String, disk: String) {
        guard let kernelPath = image.path(of: "kernel"), let kernelSHA = image.sha256(of: "kernel"),
              let initrdPath = image.path(of: "initrd"), let initrdSHA = image.sha256(of: "initrd") else {
            throw OrchestratorError.imageNotBuilt(image.manifest.name)
        }
        let kernel = try await hypervisor.stageArtifact(at: kernelPath, sha256: kernelSHA, progress: progress)
        let initrd = try await hypervisor.stageArtifact(at: initrdPath, sha256: initrdSHA, progress: progress)
        let disk = try await hypervisor.createVolume(named: CVMVolumes.disk(of: record), capacityBytes: UInt64(record.diskMiB) << 20,
                                                     contents: credentials.isEmpty ? ConfigBlock.encode(config)
                                                         : ConfigBlock.encode(config, credentials: credentials))
        return (kernel, initrd, disk)
    }

    /// Opens the agent channel and waits for the first heartbeat that authenticates.
    func waitForFirstHeartbeat(domain: any HypervisorDomain, record: CVMRecord, secret: [UInt8], timeout: Duration) async throws -> Heartbeat {
        let channel = try await domain.openAgentChannel(cvmID: record.id, secret: secret, force: false)
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
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let hb = result { return hb }
                try Task.checkCancellation()
                let state = (try? await domain.state().description) ?? "unknown"
                throw OrchestratorError.deployTimeout(name: name, seconds: timeout.seconds, hint: "domain state: \(state)")
            }
            throw CancellationError()
        }
    }

    static func ms(_ d: Duration) -> Int {
        Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// What `cvmctl deploy` asks for, names and identifiers.
package enum CVMNaming {
    package static func domainName(for cvm: String) -> String { "cvm-\(cvm)" }

    package static func isValid(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter, first.isLowercase, name.count <= 40 else { return false }
        return name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    package static func shortID() -> String {
        var rng = SystemRandomNumberGenerator()
        return String(format: "%04x", UInt16.random(in: 0...UInt16.max, using: &rng))
    }
}

/// The volumes a CVM owns on its host. Names carry the CVM's id, not only its name: several
/// state directories may share a host's data directory (and so its pool), and names repeat.
package enum CVMVolumes {
    package static func disk(of cvm: CVMRecord) -> String { "\(cvm.name)-\(cvm.id.prefix(8))-disk.img" }
    /// The serial console's log, which virtlogd appends to beside the disk (``CVMConsole``).
    package static func consoleLog(of cvm: CVMRecord) -> String { "\(cvm.name)-\(cvm.id.prefix(8))-console.log" }
    package static func all(of cvm: CVMRecord) -> [String] { [disk(of: cvm), consoleLog(of: cvm)] }
}

extension CVMRecord {
    /// Copies a heartbeat's usage into the record. A guest controls every figure it sends:
    /// each is bounded here (``GuestFigures``), so sums and unit conversions over records
    /// can never overflow, whatever a hostile agent reports.
    mutating func apply(_ hb: Heartbeat, at now: Date) {
        lastHeartbeatAt = now
        bootNonce = String(hb.boot, radix: 16)
        lastSeq = Int64(clamping: hb.seq)
        agentStatus = hb.status.rawValue
        cpuPercent = GuestFigures.percent(hb.cpuPercent)
        memUsedKiB = GuestFigures.kibibytes(hb.memUsedKiB)
        memTotalKiB = GuestFigures.kibibytes(hb.memTotalKiB)
        diskReadBytes = GuestFigures.bytes(hb.diskReadBytes)
        diskWriteBytes = GuestFigures.bytes(hb.diskWriteBytes)
        netRxBytes = GuestFigures.bytes(hb.netRxBytes)
        netTxBytes = GuestFigures.bytes(hb.netTxBytes)
        connections = GuestFigures.count(hb.connections)
        agentRole = hb.role
        serving = hb.service?.serving
        servedActive = hb.service.map { GuestFigures.count($0.active) }
        servedOpened = hb.service.map { GuestFigures.count($0.opened) }
        servedBytes = hb.service.map { GuestFigures.bytes($0.bytes) }
        servedSpills = hb.service.map { GuestFigures.count($0.spills) }
        servedConfig = hb.service.map { Int64(bitPattern: $0.config) }
    }
}

/// Bounds for the figures a guest reports. Each is far above anything real (a byte counter
/// of 2^50 is a pebibyte) and far below where a sum of thousands of them, or a conversion of
/// KiB to bytes, could overflow 64 bits or lose precision as a Double.
public enum GuestFigures {
    package static let maxBytes: Int64 = 1 << 50
    package static let maxKiB: Int64 = 1 << 40
    package static let maxCount: Int64 = 1 << 32
    /// 100 per vCPU; no CVM has 10,000 vCPUs.
    package static let maxPercent: Double = 1_000_000

    package static func bytes(_ value: UInt64) -> Int64 { Int64(min(value, UInt64(maxBytes))) }
    package static func kibibytes(_ value: UInt64) -> Int64 { Int64(min(value, UInt64(maxKiB))) }
    package static func count(_ value: UInt64) -> Int64 { Int64(min(value, UInt64(maxCount))) }
    package static func percent(_ value: Double) -> Double { value.isFinite ? min(max(0, value), maxPercent) : 0 }

    /// `a + b`, saturating at the bounds of Int64.
    package static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : value
    }

    /// `value` KiB in bytes, saturating.
    public static func bytes(kibibytes value: Int64) -> Int64 {
        let (product, overflow) = value.multipliedReportingOverflow(by: 1024)
        return overflow ? (value > 0 ? .max : .min) : product
    }
}
