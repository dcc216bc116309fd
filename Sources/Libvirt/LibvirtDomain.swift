import CLibvirt
import Foundation

/// A libvirt domain handle (`virDomainPtr`), freed when the last reference goes.
/// Thread-safe for the same reason as ``LibvirtConnection``; it keeps its connection alive.
public final class LibvirtDomain: @unchecked Sendable {
    let raw: virDomainPtr
    public let connection: LibvirtConnection

    init(raw: virDomainPtr, connection: LibvirtConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { virDomainFree(raw) }

    public var name: String { String(cString: virDomainGetName(raw)) }

    public var uuid: String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        _ = virDomainGetUUIDString(raw, &buffer)
        return String(nulTerminated: buffer)
    }

    public var isActive: Bool { virDomainIsActive(raw) == 1 }
    public var isPersistent: Bool { virDomainIsPersistent(raw) == 1 }

    public func state() throws -> DomainState {
        var state: Int32 = 0
        var reason: Int32 = 0
        var err = virError()
        guard cvm_virDomainGetState(raw, &state, &reason, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainGetState(\(name))")
        }
        return DomainState(rawState: state, reason: reason)
    }

    /// CPU time used by the guest and its current memory.
    public func info() throws -> (cpuTimeNs: UInt64, memoryKiB: UInt64, vcpus: Int) {
        var info = virDomainInfo()
        var err = virError()
        guard cvm_virDomainGetInfo(raw, &info, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainGetInfo(\(name))")
        }
        return (UInt64(info.cpuTime), UInt64(info.memory), Int(info.nrVirtCpu))
    }

    /// The domain XML; `inactive` gives the persistent definition instead of the live one,
    /// `migratable` the form another host accepts (no host-specific defaults).
    public func xml(inactive: Bool = false, migratable: Bool = false) throws -> String {
        var flags: UInt32 = 0
        if inactive { flags |= UInt32(VIR_DOMAIN_XML_INACTIVE.rawValue) }
        if migratable { flags |= UInt32(VIR_DOMAIN_XML_MIGRATABLE.rawValue) }
        var err = virError()
        guard let p = cvm_virDomainGetXMLDesc(raw, flags, &err) else {
            throw LibvirtError(capturing: &err, operation: "virDomainGetXMLDesc(\(name))")
        }
        defer { free(p) }
        return String(cString: p)
    }

    public func start() throws {
        var err = virError()
        guard cvm_virDomainCreate(raw, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainCreate(\(name))")
        }
    }

    /// Hard stop. Succeeds quietly when the domain is already stopped.
    public func destroy() throws {
        var err = virError()
        guard cvm_virDomainDestroy(raw, &err) == 0 else {
            let error = LibvirtError(capturing: &err, operation: "virDomainDestroy(\(name))")
            if error.code == .operationInvalid { return } // not running
            throw error
        }
    }

    /// Removes the persistent definition (and any managed save, snapshot or NVRAM data).
    public func undefine() throws {
        let flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
            | VIR_DOMAIN_UNDEFINE_NVRAM.rawValue | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue
        var err = virError()
        guard cvm_virDomainUndefineFlags(raw, UInt32(flags), &err) == 0 else {
            let error = LibvirtError(capturing: &err, operation: "virDomainUndefine(\(name))")
            // Drivers without snapshots/NVRAM (the test driver) reject the flags.
            guard error.code == .invalidArgument || error.code == .noSupport else { throw error }
            guard cvm_virDomainUndefine(raw, &err) == 0 else {
                throw LibvirtError(capturing: &err, operation: "virDomainUndefine(\(name))")
            }
            return
        }
    }

    /// Our own metadata element (namespace `uri`), or nil when the domain has none.
    public func metadata(namespace uri: String) throws -> String? {
        var err = virError()
        guard let p = cvm_virDomainGetMetadata(raw, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), uri,
                                               UInt32(VIR_DOMAIN_AFFECT_CURRENT.rawValue), &err) else {
            let error = LibvirtError(capturing: &err, operation: "virDomainGetMetadata(\(name))")
            if error.code == .noDomainMetadata { return nil }
            throw error
        }
        defer { free(p) }
        return String(cString: p)
    }

    /// Opens the named character device (channel alias, e.g. `ua-agent`) as a stream.
    /// `force` takes the channel over from another client that holds it open.
    public func openChannel(alias: String, into stream: LibvirtStream, force: Bool = false) throws {
        let flags = force ? UInt32(VIR_DOMAIN_CHANNEL_FORCE.rawValue) : 0
        var err = virError()
        guard cvm_virDomainOpenChannel(raw, alias, stream.raw, flags, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virDomainOpenChannel(\(name), \(alias))")
        }
    }
}

/// The state of a domain as libvirt reports it (`virDomainState` + reason).
public struct DomainState: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case nostate, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended }
    public var kind: Kind
    public var reason: Int32

    init(rawState: Int32, reason: Int32) {
        switch UInt32(rawState) {
        case VIR_DOMAIN_RUNNING.rawValue: kind = .running
        case VIR_DOMAIN_BLOCKED.rawValue: kind = .blocked
        case VIR_DOMAIN_PAUSED.rawValue: kind = .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: kind = .shutdown
        case VIR_DOMAIN_SHUTOFF.rawValue: kind = .shutoff
        case VIR_DOMAIN_CRASHED.rawValue: kind = .crashed
        case VIR_DOMAIN_PMSUSPENDED.rawValue: kind = .pmsuspended
        default: kind = .nostate
        }
        self.reason = reason
    }

    public var isRunning: Bool { kind == .running || kind == .blocked || kind == .paused }
    public var description: String { kind.rawValue }
}
