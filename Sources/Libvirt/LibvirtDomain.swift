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
        guard virDomainGetState(raw, &state, &reason, 0) == 0 else {
            throw LibvirtError.last("virDomainGetState(\(name))")
        }
        return DomainState(rawState: state, reason: reason)
    }

    /// CPU time used by the guest and its current memory.
    public func info() throws -> (cpuTimeNs: UInt64, memoryKiB: UInt64, vcpus: Int) {
        var info = virDomainInfo()
        guard virDomainGetInfo(raw, &info) == 0 else { throw LibvirtError.last("virDomainGetInfo(\(name))") }
        return (UInt64(info.cpuTime), UInt64(info.memory), Int(info.nrVirtCpu))
    }

    /// The domain XML; `inactive` gives the persistent definition instead of the live one,
    /// `migratable` the form another host accepts (no host-specific defaults).
    public func xml(inactive: Bool = false, migratable: Bool = false) throws -> String {
        var flags: UInt32 = 0
        if inactive { flags |= UInt32(VIR_DOMAIN_XML_INACTIVE.rawValue) }
        if migratable { flags |= UInt32(VIR_DOMAIN_XML_MIGRATABLE.rawValue) }
        guard let p = virDomainGetXMLDesc(raw, flags) else { throw LibvirtError.last("virDomainGetXMLDesc(\(name))") }
        defer { free(p) }
        return String(cString: p)
    }

    public func start() throws {
        guard virDomainCreate(raw) == 0 else { throw LibvirtError.last("virDomainCreate(\(name))") }
    }

    /// Hard stop. Succeeds quietly when the domain is already stopped.
    public func destroy() throws {
        guard virDomainDestroy(raw) == 0 else {
            let error = LibvirtError.last("virDomainDestroy(\(name))")
            if error.code == .operationInvalid { return } // not running
            throw error
        }
    }

    /// Removes the persistent definition (and any managed save, snapshot or NVRAM data).
    public func undefine() throws {
        let flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE.rawValue | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
            | VIR_DOMAIN_UNDEFINE_NVRAM.rawValue | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue
        guard virDomainUndefineFlags(raw, UInt32(flags)) == 0 else {
            let error = LibvirtError.last("virDomainUndefine(\(name))")
            // Drivers without snapshots/NVRAM (the test driver) reject the flags.
            guard error.code == .invalidArgument || error.code == .noSupport else { throw error }
            guard virDomainUndefine(raw) == 0 else { throw LibvirtError.last("virDomainUndefine(\(name))") }
            return
        }
    }

    /// Our own metadata element (namespace `uri`), or nil when the domain has none.
    public func metadata(namespace uri: String) throws -> String? {
        guard let p = virDomainGetMetadata(raw, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), uri,
                                           UInt32(VIR_DOMAIN_AFFECT_CURRENT.rawValue)) else {
            let error = LibvirtError.last("virDomainGetMetadata(\(name))")
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
        guard virDomainOpenChannel(raw, alias, stream.raw, flags) == 0 else {
            throw LibvirtError.last("virDomainOpenChannel(\(name), \(alias))")
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
