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
        guard virStoragePoolCreate(raw, 0) == 0 else { throw LibvirtError.last("virStoragePoolCreate") }
    }

    /// Stops a pool (a transient one disappears from libvirt; its directory stays).
    public func destroy() throws {
        guard virStoragePoolDestroy(raw) == 0 else { throw LibvirtError.last("virStoragePoolDestroy") }
    }

    public func refresh() throws {
        guard virStoragePoolRefresh(raw, 0) == 0 else { throw LibvirtError.last("virStoragePoolRefresh") }
    }

    public func lookupVolume(name: String) throws -> LibvirtStorageVolume? {
        guard let v = virStorageVolLookupByName(raw, name) else {
            let error = LibvirtError.last("virStorageVolLookupByName(\(name))")
            if error.code == .noStorageVolume { return nil }
            throw error
        }
        return LibvirtStorageVolume(raw: v, connection: connection)
    }

    public func createVolume(xml: String) throws -> LibvirtStorageVolume {
        guard let v = virStorageVolCreateXML(raw, xml, 0) else { throw LibvirtError.last("virStorageVolCreateXML") }
        return LibvirtStorageVolume(raw: v, connection: connection)
    }

    public func volumeNames() throws -> [String] {
        var list: UnsafeMutablePointer<virStorageVolPtr?>?
        let n = virStoragePoolListAllVolumes(raw, &list, 0)
        guard n >= 0 else { throw LibvirtError.last("virStoragePoolListAllVolumes") }
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
            guard let p = virStorageVolGetPath(raw) else { throw LibvirtError.last("virStorageVolGetPath") }
            defer { free(p) }
            return String(cString: p)
        }
    }

    /// The volume's size as libvirt reports it.
    public var capacityBytes: UInt64 {
        get throws {
            var info = virStorageVolInfo()
            guard virStorageVolGetInfo(raw, &info) == 0 else { throw LibvirtError.last("virStorageVolGetInfo") }
            return UInt64(info.capacity)
        }
    }

    public func delete() throws {
        guard virStorageVolDelete(raw, 0) == 0 else { throw LibvirtError.last("virStorageVolDelete") }
    }

    /// The volume's whole content, read through libvirt's stream API (works remotely).
    public func download() throws -> [UInt8] {
        let stream = try LibvirtStream(connection: connection, nonBlocking: false)
        guard virStorageVolDownload(raw, stream.raw, 0, 0, 0) == 0 else {
            throw LibvirtError.last("virStorageVolDownload")
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
        guard virStorageVolUpload(raw, stream.raw, offset, UInt64(bytes.count), 0) == 0 else {
            throw LibvirtError.last("virStorageVolUpload")
        }
        try stream.sendAll(bytes)
        try stream.finish()
    }
}
