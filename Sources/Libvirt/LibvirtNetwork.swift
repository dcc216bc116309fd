import CLibvirt
import Foundation

/// A libvirt virtual network handle (the CVM bridge). Thread-safe for the same reason as
/// ``LibvirtConnection``.
public final class LibvirtNetwork: @unchecked Sendable {
    let raw: virNetworkPtr
    public let connection: LibvirtConnection

    init(raw: virNetworkPtr, connection: LibvirtConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { virNetworkFree(raw) }

    public var name: String { String(cString: virNetworkGetName(raw)) }
    public var isActive: Bool { virNetworkIsActive(raw) == 1 }

    public func xml() throws -> String {
        var err = virError()
        guard let text = cvm_virNetworkGetXMLDesc(raw, &err) else {
            throw LibvirtError(capturing: &err, operation: "virNetworkGetXMLDesc")
        }
        defer { free(text) }
        return String(cString: text)
    }

    public func start() throws {
        var err = virError()
        guard cvm_virNetworkCreate(raw, &err) == 0 else { throw LibvirtError(capturing: &err, operation: "virNetworkCreate") }
    }

    /// Stops it and removes its definition; either step is skipped when already done.
    public func remove() throws {
        var err = virError()
        if isActive, cvm_virNetworkDestroy(raw, &err) != 0 {
            throw LibvirtError(capturing: &err, operation: "virNetworkDestroy")
        }
        guard cvm_virNetworkUndefine(raw, &err) == 0 else {
            let error = LibvirtError(capturing: &err, operation: "virNetworkUndefine")
            if error.code == .noNetwork { return }
            throw error
        }
    }
}

extension LibvirtConnection {
    public func lookupNetwork(name: String) throws -> LibvirtNetwork? {
        var err = virError()
        guard let n = cvm_virNetworkLookupByName(raw, name, &err) else {
            let error = LibvirtError(capturing: &err, operation: "virNetworkLookupByName(\(name))")
            if error.code == .noNetwork { return nil }
            throw error
        }
        return LibvirtNetwork(raw: n, connection: self)
    }

    /// Defines a persistent network, starts it and sets autostart; if starting fails the
    /// definition is removed again (nothing half-done).
    public func createNetwork(xml: String) throws -> LibvirtNetwork {
        var err = virError()
        guard let n = cvm_virNetworkDefineXML(raw, xml, &err) else {
            throw LibvirtError(capturing: &err, operation: "virNetworkDefineXML")
        }
        let network = LibvirtNetwork(raw: n, connection: self)
        do {
            try network.start()
        } catch {
            try? network.remove()
            throw error
        }
        _ = virNetworkSetAutostart(n, 1)
        return network
    }
}
