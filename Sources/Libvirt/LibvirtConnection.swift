import CLibvirt
import Foundation

/// One open libvirt connection (`virConnectPtr`), closed when the last reference goes.
///
/// libvirt connections are thread-safe: every public libvirt call on one connection may
/// be made from any thread, so sharing the handle across tasks is sound. Calls block
/// (they wait for libvirtd); callers in async code use ``LibvirtExecutor``.
public final class LibvirtConnection: @unchecked Sendable {
    let raw: virConnectPtr
    public let uri: String

    /// Opens `uri` (e.g. `qemu:///system`, `test:///default`, `qemu+libssh2://…`).
    /// - Throws: ``LibvirtError`` with the daemon's reason when it cannot be reached.
    public init(uri: String) throws {
        LibvirtRuntime.ensureStarted()
        guard let conn = virConnectOpen(uri) else {
            throw LibvirtError.last("virConnectOpen(\(uri))")
        }
        self.raw = conn
        self.uri = uri
    }

    deinit {
        virConnectClose(raw)
    }

    public var hostname: String {
        get throws {
            guard let p = virConnectGetHostname(raw) else { throw LibvirtError.last("virConnectGetHostname") }
            defer { free(p) }
            return String(cString: p)
        }
    }

    /// The libvirt version of the daemon behind this connection.
    public var daemonVersion: String {
        get throws {
            var v: UInt = 0
            guard virConnectGetLibVersion(raw, &v) == 0 else { throw LibvirtError.last("virConnectGetLibVersion") }
            return LibvirtRuntime.format(v)
        }
    }

    public var isAlive: Bool { virConnectIsAlive(raw) == 1 }

    /// Host memory and CPUs as libvirt reports them.
    public func nodeInfo() throws -> (cpus: Int, memoryKiB: UInt64) {
        var info = virNodeInfo()
        guard virNodeGetInfo(raw, &info) == 0 else { throw LibvirtError.last("virNodeGetInfo") }
        return (Int(info.cpus), UInt64(info.memory))
    }

    /// Free memory on the host in bytes.
    public func freeMemory() -> UInt64 { UInt64(virNodeGetFreeMemory(raw)) }

    /// Domain capabilities XML for a virtualization type (`kvm` or `qemu`), or nil when the
    /// host cannot offer it.
    public func domainCapabilities(virtType: String) -> String? {
        guard let p = virConnectGetDomainCapabilities(raw, nil, "x86_64", nil, virtType, 0) else {
            virResetLastError()
            return nil
        }
        defer { free(p) }
        return String(cString: p)
    }

    // MARK: Domains

    public func lookupDomain(name: String) throws -> LibvirtDomain? {
        guard let d = virDomainLookupByName(raw, name) else {
            let error = LibvirtError.last("virDomainLookupByName(\(name))")
            if error.code == .noDomain { return nil }
            throw error
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    public func lookupDomain(uuid: String) throws -> LibvirtDomain? {
        guard let d = virDomainLookupByUUIDString(raw, uuid) else {
            let error = LibvirtError.last("virDomainLookupByUUIDString(\(uuid))")
            if error.code == .noDomain { return nil }
            throw error
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Defines a persistent domain from XML (does not start it).
    public func defineDomain(xml: String) throws -> LibvirtDomain {
        guard let d = virDomainDefineXML(raw, xml) else { throw LibvirtError.last("virDomainDefineXML") }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Starts a transient domain that libvirt destroys when this connection closes
    /// (`VIR_DOMAIN_START_AUTODESTROY`): for probes that must never outlive the process.
    public func createAutodestroyDomain(xml: String) throws -> LibvirtDomain {
        guard let d = virDomainCreateXML(raw, xml, UInt32(VIR_DOMAIN_START_AUTODESTROY.rawValue)) else {
            throw LibvirtError.last("virDomainCreateXML")
        }
        return LibvirtDomain(raw: d, connection: self)
    }

    /// Every domain, running or defined.
    public func allDomains() throws -> [LibvirtDomain] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let n = virConnectListAllDomains(raw, &list, 0)
        guard n >= 0 else { throw LibvirtError.last("virConnectListAllDomains") }
        defer { free(list) }
        return (0..<Int(n)).compactMap { i in list?[i].map { LibvirtDomain(raw: $0, connection: self) } }
    }

    // MARK: Storage

    public func lookupStoragePool(name: String) throws -> LibvirtStoragePool? {
        guard let p = virStoragePoolLookupByName(raw, name) else {
            let error = LibvirtError.last("virStoragePoolLookupByName(\(name))")
            if error.code == .noStoragePool { return nil }
            throw error
        }
        return LibvirtStoragePool(raw: p, connection: self)
    }

    /// Creates (and builds: makes the directory) a transient pool: it disappears from
    /// libvirt when destroyed or when libvirtd restarts, leaving no definition behind.
    public func createTransientStoragePool(xml: String) throws -> LibvirtStoragePool {
        if let p = virStoragePoolCreateXML(raw, xml, UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue)) {
            return LibvirtStoragePool(raw: p, connection: self)
        }
        let error = LibvirtError.last("virStoragePoolCreateXML")
        // Drivers that cannot build pools (the test driver) reject the flag.
        guard error.code == .invalidArgument || error.code == .noSupport else { throw error }
        guard let p = virStoragePoolCreateXML(raw, xml, 0) else { throw LibvirtError.last("virStoragePoolCreateXML") }
        return LibvirtStoragePool(raw: p, connection: self)
    }

    /// Defines, builds and starts a persistent pool; autostart on.
    public func createStoragePool(xml: String) throws -> LibvirtStoragePool {
        guard let p = virStoragePoolDefineXML(raw, xml, 0) else { throw LibvirtError.last("virStoragePoolDefineXML") }
        let pool = LibvirtStoragePool(raw: p, connection: self)
        guard virStoragePoolBuild(p, 0) == 0 else { throw LibvirtError.last("virStoragePoolBuild") }
        guard virStoragePoolCreate(p, 0) == 0 else { throw LibvirtError.last("virStoragePoolCreate") }
        _ = virStoragePoolSetAutostart(p, 1)
        return pool
    }
}
