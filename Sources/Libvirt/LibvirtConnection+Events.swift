import CLibvirt
import Foundation

/// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`).
public struct LifecycleEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed, unknown
    }
    public var domainName: String
    public var domainUUID: String
    public var kind: Kind
    /// The event's detail code (e.g. for `stopped`: shutdown, destroyed, crashed, migrated, failed).
    public var detail: Int32

    /// True when the domain went away without anyone asking (crash, QEMU killed).
    public var isFailure: Bool {
        switch kind {
        case .crashed: return true
        case .stopped:
            return detail == Int32(VIR_DOMAIN_EVENT_STOPPED_FAILED.rawValue)
                || detail == Int32(VIR_DOMAIN_EVENT_STOPPED_CRASHED.rawValue)
        default: return false
        }
    }

    /// True when a stop is the source side of a completed migration.
    public var isMigratedAway: Bool {
        kind == .stopped && detail == Int32(VIR_DOMAIN_EVENT_STOPPED_MIGRATED.rawValue)
    }

    static func kind(_ raw: Int32) -> Kind {
        switch UInt32(raw) {
        case VIR_DOMAIN_EVENT_DEFINED.rawValue: return .defined
        case VIR_DOMAIN_EVENT_UNDEFINED.rawValue: return .undefined
        case VIR_DOMAIN_EVENT_STARTED.rawValue: return .started
        case VIR_DOMAIN_EVENT_SUSPENDED.rawValue: return .suspended
        case VIR_DOMAIN_EVENT_RESUMED.rawValue: return .resumed
        case VIR_DOMAIN_EVENT_STOPPED.rawValue: return .stopped
        case VIR_DOMAIN_EVENT_SHUTDOWN.rawValue: return .shutdown
        case VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue: return .pmsuspended
        case VIR_DOMAIN_EVENT_CRASHED.rawValue: return .crashed
        default: return .unknown
        }
    }
}

/// Keeps an event registration alive; deregisters when released.
public final class EventRegistration: @unchecked Sendable {
    // Immutable after init; libvirt's deregistration is thread-safe.
    let connection: LibvirtConnection
    let callbackID: Int32
    init(connection: LibvirtConnection, callbackID: Int32) {
        self.connection = connection
        self.callbackID = callbackID
    }
    /// Deregisters later, on the connection's thread after the calls before it (see
    /// `LibvirtConnection.serially`): over a link that dropped silently the call blocks until
    /// the keepalive gives up, and whoever releases the registration (often under a lock, or
    /// on a cooperative thread) must not wait for that. Nothing is sent on a connection
    /// libvirt has closed (closing it drops its callbacks).
    deinit {
        let connection = self.connection, callbackID = self.callbackID
        guard connection.isAlive else { return }
        connection.eventually {
            guard connection.isAlive else { return }
            _ = virConnectDomainEventDeregisterAny(connection.raw, callbackID)
            virResetLastError()
        }
    }
}

extension LibvirtConnection {
    /// Delivers lifecycle events of every domain on this connection to `handler`, on
    /// libvirt's event thread. Keep the returned registration to keep receiving them.
    public func onLifecycleEvents(_ handler: @escaping @Sendable (LifecycleEvent) -> Void) throws -> EventRegistration {
        final class Box: Sendable {
            let handler: @Sendable (LifecycleEvent) -> Void
            init(_ h: @escaping @Sendable (LifecycleEvent) -> Void) { handler = h }
        }
        let box = Unmanaged.passRetained(Box(handler)).toOpaque()
        let callback: virConnectDomainEventCallback = { _, dom, event, detail, opaque in
            guard let dom, let opaque else { return 0 }
            var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
            _ = virDomainGetUUIDString(dom, &uuid)
            let e = LifecycleEvent(domainName: String(cString: virDomainGetName(dom)),
                                   domainUUID: String(nulTerminated: uuid),
                                   kind: LifecycleEvent.kind(event), detail: detail)
            Unmanaged<Box>.fromOpaque(opaque).takeUnretainedValue().handler(e)
            return 0
        }
        var err = virError()
        let id = cvm_virConnectDomainEventRegisterAny(raw, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                                                      cvm_lifecycle_callback(callback), box,
                                                      { opaque in opaque.map { Unmanaged<Box>.fromOpaque($0).release() } },
                                                      &err)
        guard id >= 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw LibvirtError(capturing: &err, operation: "virConnectDomainEventRegisterAny(lifecycle)")
        }
        return EventRegistration(connection: self, callbackID: id)
    }

    /// Asks libvirt to probe the connection every `interval` seconds and close it after
    /// `count` unanswered probes, so a dead remote daemon is noticed.
    public func setKeepAlive(interval: Int32 = 5, count: UInt32 = 3) {
        _ = virConnectSetKeepAlive(raw, interval, count)
        virResetLastError()
    }
}
