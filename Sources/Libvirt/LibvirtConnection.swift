import CLibvirt
import Foundation

/// One open libvirt connection (`virConnectPtr`), closed when the last reference goes.
///
/// libvirt connections are thread-safe in principle, and calls block (they wait for
/// libvirtd). Async code makes its calls through ``serially(_:)``: one at a time per
/// connection, on a thread of the connection's own. libvirt 9.0's RPC client leaves a
/// socket watch pointing at a finished call's stack when a second thread's call interrupts
/// the first one's wait (`g_main_loop_quit` in `virNetClientIO`); a later call that iterates
/// the client's loop then dispatches it and the process crashes (`virNetClientIOEventFD`).
/// On a link that drops and comes back this happened in most chaos runs. One call at a time
/// never interrupts a wait, and a call hung on a dead link delays only its own connection.
public final class LibvirtConnection: @unchecked Sendable {
    let raw: virConnectPtr
    public let uri: String
    /// The connection's own thread (started on demand, gone after 10 s idle).
    private let calls = BlockingWorkPool(name: "cvm.libvirt.conn", maximumThreads: 1, idleTimeout: .seconds(10))

    /// Runs `body` — calls on this connection and on its domains, pools and streams — after
    /// every call submitted before it, on the connection's thread. A task cancelled while it
    /// waits never runs it (`CancellationError`); one that started runs to the end.
    public func serially<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await calls.run(body)
    }

    /// Submits `body` to run after the calls submitted before it, without waiting for it.
    public func eventually(_ body: @escaping @Sendable () -> Void) {
        Task { try? await calls.run(body) }
    }

    /// Opens `uri` (e.g. `qemu:///system`, `test:///default`, `qemu+libssh2://…`).
    /// - Throws: ``LibvirtError`` with the daemon's reason when it cannot be reached.
    public init(uri: String) throws {
        LibvirtRuntime.ensureStarted()
        var err = virError()
        guard let conn = cvm_virConnectOpen(uri, &err) else {
            throw LibvirtError(capturing: &err, operation: "virConnectOpen(\(uri))")
        }
        self.raw = conn
        self.uri = uri
    }

    deinit {
        virConnectClose(raw)
    }

    public var hostname: String {
        get throws {
            var err = virError()
            guard let p = cvm_virConnectGetHostname(raw, &err) else {
                throw LibvirtError(capturing: &err, operation: "virConnectGetHostname")
            }
            defer { free(p) }
            return String(cString: p)
        }
    }

    /// The libvirt version of the daemon behind this connection.
    public var daemonVersion: String {
        get throws {
            var v: UInt = 0
            var err = virError()
            guard cvm_virConnectGetLibVersion(raw, &v, &err) == 0 else {
                throw LibvirtError(capturing: &err, operation: "virConnectGetLibVersion")
            }
            return LibvirtRuntime.format(v)
        }
    }

    public var isAlive: Bool { virConnectIsAlive(raw) == 1 }

    /// Host memory and CPUs as libvirt reports them.
    public func nodeInfo() throws -> (cpus: Int, memoryKiB: UInt64) {
        var info = virNodeInfo()
        var err = virError()
        guard cvm_virNodeGetInfo(raw, &info, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virNodeGetInfo")
        }
        return (Int(info.cpus), UInt64(info.memory))
    }

    /// Free memory on the host in bytes.
    public func freeMemory() -> UInt64 { UInt64(virNodeGetFreeMemory(raw)) }

    /// Domain capabilities XML for a virtualization type (`kvm` or `qemu`), or nil when the
    /// host cannot offer it.
    public func domainCapabilities(virtType: String) -> String? {
        var err = virError()
        guard let p = cvm_virConnectGetDomainCapabilities(raw, nil, "x86_64", nil, virtType, 0, &err) else {
            virResetError(&err) // the reason does not matter: the host cannot offer it
            return nil
        }
        defer { free(p) }
        return String(cString: p)
    }

    // MARK: Domains

    public func lookupDomain(name: String) throws -> LibvirtDomain? {
        var err = virError()
        guard let d = cvm_virDomainLookupByName(raw, name, &err) else {
            let error = LibvirtError(capturing: &err, operation: "virDomainLookupByName(\(name))")
            if error.code == .noDomain { return nil }
            throw error
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    public func lookupDomain(uuid: String) throws -> LibvirtDomain? {
        var err = virError()
        guard let d = cvm_virDomainLookupByUUIDString(raw, uuid, &err) else {
            let error = LibvirtError(capturing: &err, operation: "virDomainLookupByUUIDString(\(uuid))")
            if error.code == .noDomain { return nil }
            throw error
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Defines a persistent domain from XML (does not start it).
    public func defineDomain(xml: String) throws -> LibvirtDomain {
        var err = virError()
        guard let d = cvm_virDomainDefineXML(raw, xml, &err) else {
            throw LibvirtError(capturing: &err, operation: "virDomainDefineXML")
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Starts a transient domain that libvirt destroys when this connection closes
    /// (`VIR_DOMAIN_START_AUTODESTROY`): for probes that must never outlive the process.
    public func createAutodestroyDomain(xml: String) throws -> LibvirtDomain {
        var err = virError()
        guard let d = cvm_virDomainCreateXML(raw, xml, UInt32(VIR_DOMAIN_START_AUTODESTROY.rawValue), &err) else {
            throw LibvirtError(capturing: &err, operation: "virDomainCreateXML")
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Every domain, running or defined.
    public func allDomains() throws -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        var err = virError()
        let n = cvm_virConnectListAllDomains(raw, &list, 0, &err)
        guard n >= 0 else { throw LibvirtError(capturing: &err, operation: "virConnectListAllDomains") }
        defer { free(list) }
        return (0..<Int(n)).compactMap { i in list?[i].map { LibvirtDomain(raw: $0, connection: self) } }
    }

    // MARK: Storage

    public func lookupStoragePool(name: String) throws -> LibvirtStoragePool? {
        var err = virError()
        guard let p = cvm_virStoragePoolLookupByName(raw, name, &err) else {
            let error = LibvirtError(capturing: &err, operation: "virStoragePoolLookupByName(\(name))")
            if error.code == .noStoragePool { return nil }
            throw error
        }
        return LibvirtStoragePool(raw: p, connection: self)
    }

    /// Creates (and builds: makes the directory) a transient pool: it disappears from
    /// libvirt when destroyed or when libvirtd restarts, leaving no definition behind.
    public func createTransientStoragePool(xml: String) throws -> LibvirtStoragePool {
        var err = virError()
        if let p = cvm_virStoragePoolCreateXML(raw, xml, UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue), &err) {
            return LibvirtStoragePool(raw: p, connection: self)
        }
        let error = LibvirtError(capturing: &err, operation: "virStoragePoolCreateXML")
        // Drivers that cannot build pools (the test driver) reject the flag.
        guard error.code == .invalidArgument || error.code == .noSupport else { throw error }
        guard let p = cvm_virStoragePoolCreateXML(raw, xml, 0, &err) else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolCreateXML")
        }
        return LibvirtStoragePool(raw: p, connection: self)
    }

    /// Defines, builds and starts a persistent pool; autostart on.
    public func createStoragePool(xml: String) throws -> LibvirtStoragePool {
        var err = virError()
        guard let p = cvm_virStoragePoolDefineXML(raw, xml, 0, &err) else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolDefineXML")
        }
        let pool = LibvirtStoragePool(raw: p, connection: self)
        guard cvm_virStoragePoolBuild(p, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolBuild")
        }
        guard cvm_virStoragePoolCreate(p, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolCreate")
        }
        _ = virStoragePoolSetAutostart(p, 1)
        return pool
    }
}
