import CLibvirt
import Foundation

/// A libvirt storage pool handle. Thread-safe for the same reason as ``LibvirtConnection``.
public final class LibvirtStoragePool: @unchecked Sendable {
    let raw: virStoragePoolPtr
    public let connection: LibvirtConnection

    init(raw: virStoragePoolPtr, connection: LibvirtConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { virStoragePoolFree(raw) }

    public var isActive: Bool { virStoragePoolIsActive(raw) == 1 }

    public func start() throws {
        var err = virError()
        guard cvm_virStoragePoolCreate(raw, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolCreate")
        }
    }

    /// Stops a pool (a transient one disappears from libvirt; its directory stays).
    public func destroy() throws {
        var err = virError()
        guard cvm_virStoragePoolDestroy(raw, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolDestroy")
        }
    }

    public func refresh() throws {
        var err = virError()
        guard cvm_virStoragePoolRefresh(raw, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStoragePoolRefresh")
        }
    }

    public func lookupVolume(name: String) throws -> LibvirtStorageVolume? {
        var err = virError()
        guard let v = cvm_virStorageVolLookupByName(raw, name, &err) else {
            let error = LibvirtError(capturing: &err, operation: "virStorageVolLookupByName(\(name))")
            if error.code == .noStorageVolume { return nil }
            throw error
        }
        return LibvirtStorageVolume(raw: v, connection: connection)
    }

    public func createVolume(xml: String) throws -> LibvirtStorageVolume {
        var err = virError()
        guard let v = cvm_virStorageVolCreateXML(raw, xml, 0, &err) else {
            throw LibvirtError(capturing: &err, operation: "virStorageVolCreateXML")
        }
        return LibvirtStorageVolume(raw: v, connection: connection)
    }

    public func volumeNames() throws -> [String] {
        var list: UnsafeMutablePointer<virStorageVolPtr?>?
        var err = virError()
        let n = cvm_virStoragePoolListAllVolumes(raw, &list, 0, &err)
        guard n >= 0 else { throw LibvirtError(capturing: &err, operation: "virStoragePoolListAllVolumes") }
        defer { free(list) }
        return (0..<Int(n)).compactMap { i -> String? in
            guard let v = list?[i] else { return nil }
            defer { virStorageVolFree(v) }
            return String(cString: virStorageVolGetName(v))
        }
    }
}

/// A storage volume handle.
public final class LibvirtStorageVolume: @unchecked Sendable {
    let raw: virStorageVolPtr
    public let connection: LibvirtConnection

    init(raw: virStorageVolPtr, connection: LibvirtConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { virStorageVolFree(raw) }

    public var path: String {
        get throws {
            var err = virError()
            guard let p = cvm_virStorageVolGetPath(raw, &err) else {
                throw LibvirtError(capturing: &err, operation: "virStorageVolGetPath")
            }
            defer { free(p) }
            return String(cString: p)
        }
    }

    /// The volume's size as libvirt reports it.
    public var capacityBytes: UInt64 {
        get throws {
            var info = virStorageVolInfo()
            var err = virError()
            guard cvm_virStorageVolGetInfo(raw, &info, &err) == 0 else {
                throw LibvirtError(capturing: &err, operation: "virStorageVolGetInfo")
            }
            return UInt64(info.capacity)
        }
    }

    public func delete() throws {
        var err = virError()
        guard cvm_virStorageVolDelete(raw, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStorageVolDelete")
        }
    }

    /// The volume's whole content, read through libvirt's stream API (works remotely).
    public func download() throws -> [UInt8] {
        let stream = try LibvirtStream(connection: connection, nonBlocking: false)
        var err = virError()
        guard cvm_virStorageVolDownload(raw, stream.raw, 0, 0, 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStorageVolDownload")
        }
        var bytes: [UInt8] = []
        while case .bytes(let chunk) = try stream.receive(maxBytes: 1 << 20) { bytes += chunk }
        try stream.finish()
        return bytes
    }

    /// Writes `bytes` at `offset` of the volume through libvirt's stream API, so it works
    /// the same for a local or a remote daemon.
    public func upload(_ bytes: [UInt8], offset: UInt64 = 0) throws {
        let stream = try LibvirtStream(connection: connection, nonBlocking: false)
        var err = virError()
        guard cvm_virStorageVolUpload(raw, stream.raw, offset, UInt64(bytes.count), 0, &err) == 0 else {
            throw LibvirtError(capturing: &err, operation: "virStorageVolUpload")
        }
        try stream.sendAll(bytes)
        try stream.finish()
    }
}
