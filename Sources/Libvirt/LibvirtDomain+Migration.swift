import CLibvirt
import Foundation

/// Settings of one live migration.
public struct MigrationOptions: Sendable {
    /// Definition for the destination (paths differ between hosts).
    public var destinationXML: String
    /// Where the destination QEMU listens for the migration stream, e.g. `tcp://10.200.0.2`
    /// (a literal address: the destination's own hostname would be resolved by DNS).
    public var migrateURI: String?
    /// Address the destination QEMU binds for incoming migration.
    public var listenAddress: String?
    /// MiB/s; nil is unlimited.
    public var bandwidthMiBs: UInt64?
    /// Disks whose contents are copied (non-shared storage), e.g. `["vda"]`.
    public var copyDisks: [String]
    public var persistentXML: String?
    /// `VIR_MIGRATE_TLS`: QEMU encrypts the stream (memory and copied disks), each side
    /// checking the other's certificate (libvirt's `migrate_tls_x509_cert_dir` on both hosts).
    public var tls: Bool

    public init(destinationXML: String, migrateURI: String? = nil, listenAddress: String? = nil,
                bandwidthMiBs: UInt64? = nil, copyDisks: [String] = [], persistentXML: String? = nil, tls: Bool = false) {
        self.tls = tls
        self.destinationXML = destinationXML
        self.migrateURI = migrateURI
        self.listenAddress = listenAddress
        self.bandwidthMiBs = bandwidthMiBs
        self.copyDisks = copyDisks
        self.persistentXML = persistentXML
    }
}

/// Progress of a running job (`virDomainGetJobStats`).
public struct JobProgress: Sendable, Equatable {
    public var active: Bool
    public var dataTotal: UInt64
    public var dataProcessed: UInt64
    public var dataRemaining: UInt64
    public var elapsedMs: UInt64
}

extension LibvirtDomain {
    /// Live-migrates the domain to `destination` (client-managed, native transport),
    /// defining it there and undefining it here when done. Blocks until it completes,
    /// fails or is aborted (``abortJob()`` from another thread). Returns the new handle.
    public func migrate(to destination: LibvirtConnection, options: MigrationOptions) throws -> LibvirtDomain {
        let params = TypedParameters()
        try params.add(VIR_MIGRATE_PARAM_DEST_XML, string: options.destinationXML)
        if let xml = options.persistentXML { try params.add(VIR_MIGRATE_PARAM_PERSIST_XML, string: xml) }
        if let uri = options.migrateURI { try params.add(VIR_MIGRATE_PARAM_URI, string: uri) }
        if let address = options.listenAddress { try params.add(VIR_MIGRATE_PARAM_LISTEN_ADDRESS, string: address) }
        if let bandwidth = options.bandwidthMiBs { try params.add(VIR_MIGRATE_PARAM_BANDWIDTH, ulonglong: bandwidth) }
        for disk in options.copyDisks { try params.add(VIR_MIGRATE_PARAM_MIGRATE_DISKS, string: disk) }
        var flags = VIR_MIGRATE_LIVE.rawValue | VIR_MIGRATE_PERSIST_DEST.rawValue | VIR_MIGRATE_UNDEFINE_SOURCE.rawValue
        if !options.copyDisks.isEmpty { flags |= VIR_MIGRATE_NON_SHARED_DISK.rawValue }
        if options.tls { flags |= VIR_MIGRATE_TLS.rawValue }
        var err = virError()
        guard let moved = cvm_virDomainMigrate3(raw, destination.raw, params.raw, UInt32(params.count), UInt32(flags),
                                                &err) else {
            throw LibvirtError(capturing: &err, operation: "virDomainMigrate3(\(name))")
        }
        return LibvirtDomain(raw: moved, connection: destination)
    }

    /// Sets the longest pause QEMU may take to switch over (per QEMU process, so set it on
    /// the source before migrating).
    public func setMaxDowntime(milliseconds: UInt64) throws {
        var err = virError()
        guard cvm_virDomainMigrateSetMaxDowntime(raw, milliseconds, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainMigrateSetMaxDowntime(\(name))")
        }
    }

    /// Aborts the running job (a migration): the domain stays where it was.
    public func abortJob() throws {
        var err = virError()
        guard cvm_virDomainAbortJob(raw, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainAbortJob(\(name))")
        }
    }

    public func jobProgress() throws -> JobProgress {
        var type: Int32 = 0
        var params: virTypedParameterPtr?
        var count: Int32 = 0
        var err = virError()
        guard cvm_virDomainGetJobStats(raw, &type, &params, &count, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainGetJobStats(\(name))")
        }
        defer { virTypedParamsFree(params, count) }
        func v(_ key: String) -> UInt64 { TypedParameters.ulonglong(params, count, key) ?? 0 }
        return JobProgress(active: type != Int32(VIR_DOMAIN_JOB_NONE.rawValue),
                           dataTotal: v(VIR_DOMAIN_JOB_DATA_TOTAL), dataProcessed: v(VIR_DOMAIN_JOB_DATA_PROCESSED),
                           dataRemaining: v(VIR_DOMAIN_JOB_DATA_REMAINING), elapsedMs: v(VIR_DOMAIN_JOB_TIME_ELAPSED))
    }
}

/// Statistics of a finished job, from `VIR_DOMAIN_EVENT_ID_JOB_COMPLETED` (race-free,
/// unlike polling the completed job).
public struct JobCompleted: Sendable, Equatable {
    public var domainName: String
    public var downtimeMs: UInt64?
    public var elapsedMs: UInt64?
    public var dataTotal: UInt64?
}

extension LibvirtConnection {
    public func onJobCompleted(_ handler: @escaping @Sendable (JobCompleted) -> Void) throws -> EventRegistration {
        final class Box: Sendable {
            let handler: @Sendable (JobCompleted) -> Void
            init(_ h: @escaping @Sendable (JobCompleted) -> Void) { handler = h }
        }
        let box = Unmanaged.passRetained(Box(handler)).toOpaque()
        let callback: virConnectDomainEventJobCompletedCallback = { _, dom, params, count, opaque in
            guard let dom, let opaque else { return }
            let event = JobCompleted(domainName: String(cString: virDomainGetName(dom)),
                                     downtimeMs: TypedParameters.ulonglong(params, count, VIR_DOMAIN_JOB_DOWNTIME),
                                     elapsedMs: TypedParameters.ulonglong(params, count, VIR_DOMAIN_JOB_TIME_ELAPSED),
                                     dataTotal: TypedParameters.ulonglong(params, count, VIR_DOMAIN_JOB_DATA_TOTAL))
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().handler(event)
        }
        var err = virError()
        let id = cvm_virConnectDomainEventRegisterAny(raw, nil, Int32(VIR_DOMAIN_EVENT_ID_JOB_COMPLETED.rawValue),
                                                      cvm_job_completed_callback(callback), box,
                                                      { opaque in opaque.map { Unmanaged<Box>.fromOpaque($0).release() } },
                                                      &err)
        guard id >= 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw LibvirtError(capturing: &err, operation: "virConnectDomainEventRegisterAny(job-completed)")
        }
        return EventRegistration(connection: self, callbackID: id)
    }
}
