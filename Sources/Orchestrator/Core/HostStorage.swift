import Libvirt
import CVMProtocol
import Foundation

/// Where a CVM's files live on a host: a libvirt dir pool for its volumes and a
/// content-addressed cache for image artifacts shared by all CVMs of that host.
struct HostStorage {
    let host: HostRecord
    let connection: LibvirtConnection

    var poolName: String { Self.poolName(dataDir: host.dataDir) }

    /// One pool per data directory, so state directories sharing a libvirtd stay apart.
    static func poolName(dataDir: String) -> String {
        "cvm-" + Hex.encode(SHA256.hash(Array(dataDir.utf8))).prefix(12)
    }
    var volumesPath: String { (host.dataDir as NSString).appendingPathComponent("volumes") }
    var cachePath: String { (host.dataDir as NSString).appendingPathComponent("images") }

    /// The host's volume pool, created (transient) when it is missing.
    func pool() throws -> LibvirtStoragePool {
        try Self.transientPool(named: poolName, path: volumesPath, mode: "0700", on: connection)
    }

    /// Looks a transient dir pool up, or creates it (with its directory). A pool whose
    /// directory was removed behind libvirt's back fails to refresh: it is dropped and made anew.
    static func transientPool(named name: String, path: String, mode: String,
                              on connection: LibvirtConnection) throws -> LibvirtStoragePool {
        if let pool = try connection.lookupStoragePool(name: name) {
            if !pool.isActive { try? pool.start() }
            if pool.isActive, (try? pool.refresh()) != nil { return pool }
            try? pool.destroy()
        }
        do {
            return try connection.createTransientStoragePool(xml: StoragePoolDefinition(name: name, path: path, mode: mode).xml)
        } catch let error as LibvirtError where error.message.contains("already exists") {
            // Another cvmctl created it between our lookup and create.
            guard let pool = try connection.lookupStoragePool(name: name) else { throw error }
            return pool
        }
    }

    var imagesPoolName: String { Self.poolName(dataDir: host.dataDir) + "-img" }

    /// The host's image cache as a libvirt pool: lets us see over the libvirt connection
    /// whether an artifact (named by its sha256) is there, without an SSH round trip.
    func imagesPool() throws -> LibvirtStoragePool {
        try Self.transientPool(named: imagesPoolName, path: cachePath, mode: "0755", on: connection)
    }

    /// Size of a cached artifact on this host: from the images pool when the host is remote,
    /// from the file system when it is local. Nil when absent.
    func imagesPoolVolumeSize(_ sha256: String) throws -> UInt64? {
        if host.isLocal {
            let path = (cachePath as NSString).appendingPathComponent(sha256)
            return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
        }
        return try imagesPool().lookupVolume(name: sha256)?.capacityBytes
    }

    /// True when the cache holds a file named `sha256` of `bytes` bytes. Files are only
    /// put there under their checksum after the upload was verified on the host.
    func cached(sha256: String, bytes: Int64) -> Bool {
        if host.isLocal { return (try? imagesPoolVolumeSize(sha256)) == UInt64(bytes) }
        guard let pool = try? imagesPool() else { return false }
        guard let volume = try? pool.lookupVolume(name: sha256), let size = try? volume.capacityBytes else { return false }
        return size == UInt64(bytes)
    }

    /// Volume names carry the CVM's id, not only its name: several state directories may
    /// share a host's data directory (and so its pool), and names repeat across them.
    static func diskVolume(_ cvm: CVMRecord) -> String { "\(cvm.name)-\(cvm.id.prefix(8))-disk.img" }
    static func volumes(_ cvm: CVMRecord) -> [String] { [diskVolume(cvm)] }

    /// Copies an artifact into the local cache under its sha256 unless it is there already,
    /// and checks the copy. Returns the cached path.
    func stageLocally(artifact path: String, sha256: String) throws -> String {
        let target = (cachePath as NSString).appendingPathComponent(sha256)
        let fm = FileManager.default
        if fm.fileExists(atPath: target) { return target }
        try fm.createDirectory(atPath: cachePath, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let partial = target + ".part.\(getpid())"
        try? fm.removeItem(atPath: partial)
        try fm.copyItem(atPath: path, toPath: partial)
        guard try FileDigest.sha256(path: partial).hex == sha256 else {
            try? fm.removeItem(atPath: partial)
            throw OrchestratorError.invalidArgument("copy of \(path) into the image cache does not match its sha256; check the disk")
        }
        if rename(partial, target) != 0 { try? fm.removeItem(atPath: partial) }
        return target
    }
}
