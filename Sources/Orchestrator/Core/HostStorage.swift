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

    /// Removes `<sha256>.part.<pid>.<n>` files of copies whose process is gone (killed or
    /// crashed mid-copy): nobody else would, and each holds up to a whole artifact.
    func removeAbandonedCopies(of sha256: String) {
        let prefix = sha256 + ".part."
        for name in (try? FileManager.default.contentsOfDirectory(atPath: cachePath)) ?? [] where name.hasPrefix(prefix) {
            let owner = name.dropFirst(prefix.count).split(separator: ".").first.flatMap { Int32($0) }
            guard let pid = owner, pid != getpid(), !ProcessLiveness.isAlive(pid) else { continue }
            try? FileManager.default.removeItem(atPath: (cachePath as NSString).appendingPathComponent(name))
        }
    }

    /// Volume names carry the CVM's id, not only its name: several state directories may
    /// share a host's data directory (and so its pool), and names repeat across them.
    static func diskVolume(_ cvm: CVMRecord) -> String { "\(cvm.name)-\(cvm.id.prefix(8))-disk.img" }
    static func volumes(_ cvm: CVMRecord) -> [String] { [diskVolume(cvm)] }

    /// True when the local cache holds a file named `sha256` whose content has that sha256.
    func locallyCached(sha256: String) -> Bool {
        let target = (cachePath as NSString).appendingPathComponent(sha256)
        return (try? FileDigest.sha256(path: target).hex) == sha256
    }

    /// Copies an artifact into the local cache under its sha256 unless a file with that
    /// content is there already (a cached file that does not hash to its name is replaced),
    /// and checks the copy. Returns the cached path.
    func stageLocally(artifact path: String, sha256: String) throws -> String {
        let target = (cachePath as NSString).appendingPathComponent(sha256)
        let fm = FileManager.default
        if fm.fileExists(atPath: target) {
            if locallyCached(sha256: sha256) { return target }
            // Replaced by the rename below; CVMs booted from the old file keep their open copy.
        }
        // One partial file per copy, not per process: elastic mode and the daemon deploy
        // several CVMs of one image at once (two copies into one file made both deploys fail).
        let partial = target + ".part.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        do {
            try fm.createDirectory(atPath: cachePath, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            removeAbandonedCopies(of: sha256)
            try? fm.removeItem(atPath: partial)
            try fm.copyItem(atPath: path, toPath: partial)
        } catch {
            // A partial copy left behind would keep a full disk full for every later command.
            try? fm.removeItem(atPath: partial)
            guard DiskSpace.isFull(error) else { throw error }
            let bytes = (try? fm.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value
            throw DiskSpace.error(writing: target, needed: bytes)
        }
        guard try FileDigest.sha256(path: partial).hex == sha256 else {
            try? fm.removeItem(atPath: partial)
            throw OrchestratorError.invalidArgument("copy of \(path) into the image cache does not match its sha256; check the disk")
        }
        if rename(partial, target) != 0 { try? fm.removeItem(atPath: partial) }
        return target
    }
}
