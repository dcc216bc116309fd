import Foundation
import GRDB
import Libvirt

/// A full file system, told as one operator line instead of the library's error, and the
/// figures that line needs.
enum DiskSpace {
    /// Bytes this process may still write on the file system holding `path` (the nearest
    /// existing folder of it); nil when unknown.
    static func available(at path: String) -> UInt64? {
        var directory = path
        var info = statvfs()
        while statvfs(directory, &info) != 0 {
            let parent = (directory as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != directory else { return nil }
            directory = parent
        }
        return UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue
    }

    /// True when `error` says the file system (or the user's quota) is full: Foundation's
    /// out-of-space error, ENOSPC/EDQUOT from the system (also as an underlying error),
    /// SQLite's SQLITE_FULL, or libvirt reporting ENOSPC.
    static func isFull(_ error: any Error) -> Bool {
        if let database = error as? DatabaseError { return database.resultCode == .SQLITE_FULL }
        if let libvirt = error as? LibvirtError { return libvirt.message.contains(String(cString: strerror(ENOSPC))) }
        if let cocoa = error as? CocoaError, cocoa.code == .fileWriteOutOfSpace { return true }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain, ns.code == Int(ENOSPC) || ns.code == Int(EDQUOT) { return true }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error { return isFull(underlying) }
        return false
    }

    /// The operator error for a write to `path` that found the disk full; `needed`, when
    /// known, is how many bytes the write wanted in all (the shortfall is said in MiB).
    static func error(writing path: String, needed: UInt64? = nil) -> OrchestratorError {
        var shortMiB: Int?
        if let needed, let available = available(at: path), needed > available {
            shortMiB = Int((needed - available + (1 << 20) - 1) >> 20)
        }
        return .noSpace(path: path, shortMiB: shortMiB)
    }
}
