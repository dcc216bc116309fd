/// Writes a `newc` (SVR4, magic `070701`) cpio archive in memory, as the Linux kernel's
/// initramfs unpacker and GNU cpio read it.
///
/// Deterministic: entries keep the order they were added in, inode numbers count up from 1,
/// uid/gid are 0, every mtime is `mtime` (default 0), and the archive ends with the
/// `TRAILER!!!` entry. The archive's length is a multiple of 4.
///
/// The orchestrator uses it to append a per-CVM overlay (`etc/`, `etc/cvm/`,
/// `etc/cvm/config`) to an image's initramfs; see `paddingBeforeAppend(toLength:)`.
///
/// ```swift
/// var cpio = CPIOWriter()
/// try cpio.addDirectory("etc", mode: 0o755)
/// try cpio.addFile("etc/motd", mode: 0o644, contents: Array("hi\n".utf8))
/// let bytes = cpio.finish()
/// ```
public struct CPIOWriter: Sendable {
    public struct PathError: Error, Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cpio: \(path): \(reason)" }
    }

    /// The mtime written for every entry.
    public let mtime: UInt32
    private var bytes: [UInt8] = []
    private var nextInode: UInt32 = 1
    private var paths = Set<String>()

    public init(mtime: UInt32 = 0) {
        self.mtime = mtime
    }

    /// Adds a directory. `mode` holds the permission bits only (e.g. `0o755`).
    /// - Throws: `PathError` for an absolute, empty, `.`/`..`-containing or repeated path.
    public mutating func addDirectory(_ path: String, mode: UInt32 = 0o755) throws {
        try append(path: path, mode: 0o040000 | (mode & 0o7777), nlink: 2, contents: [])
    }

    /// Adds a regular file. `mode` holds the permission bits only (e.g. `0o600`).
    /// - Throws: `PathError` as for `addDirectory`.
    public mutating func addFile(_ path: String, mode: UInt32 = 0o644, contents: [UInt8]) throws {
        try append(path: path, mode: 0o100000 | (mode & 0o7777), nlink: 1, contents: contents)
    }

    /// Adds a character device node (e.g. `dev/console`, 5, 1).
    /// - Throws: `PathError` as for `addDirectory`.
    public mutating func addCharacterDevice(_ path: String, mode: UInt32 = 0o600,
                                            major: UInt32, minor: UInt32) throws {
        try append(path: path, mode: 0o020000 | (mode & 0o7777), nlink: 1, contents: [],
                   rdev: (major, minor))
    }

    /// Adds the trailer and returns the archive.
    public consuming func finish() -> [UInt8] {
        writeEntry(name: "TRAILER!!!", inode: 0, mode: 0, nlink: 1, contents: [], rdev: (0, 0))
        return bytes
    }

    /// How many zero bytes must follow an archive (or compressed archive) of `length` bytes
    /// before another archive is appended to it. The kernel only recognises a following
    /// `070701` header at a 4-byte aligned offset and skips zero bytes in between.
    public static func paddingBeforeAppend(toLength length: Int) -> Int {
        (4 - length % 4) % 4
    }

    // MARK: - Encoding

    private mutating func append(path: String, mode: UInt32, nlink: UInt32, contents: [UInt8],
                                 rdev: (UInt32, UInt32) = (0, 0)) throws {
        try CPIOWriter.validate(path)
        guard paths.insert(path).inserted else {
            throw PathError(path: path, reason: "added twice")
        }
        writeEntry(name: path, inode: nextInode, mode: mode, nlink: nlink, contents: contents, rdev: rdev)
        nextInode += 1
    }

    private static func validate(_ path: String) throws {
        guard !path.isEmpty else { throw PathError(path: path, reason: "empty path") }
        guard !path.hasPrefix("/") else { throw PathError(path: path, reason: "must be relative") }
        guard !path.utf8.contains(0) else { throw PathError(path: path, reason: "contains NUL") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw PathError(path: path, reason: "empty, '.' or '..' component")
        }
        guard path != "TRAILER!!!" else { throw PathError(path: path, reason: "reserved name") }
    }

    private mutating func writeEntry(name: String, inode: UInt32, mode: UInt32, nlink: UInt32,
                                     contents: [UInt8], rdev: (UInt32, UInt32)) {
        let nameBytes = Array(name.utf8) + [0]
        bytes.append(contentsOf: "070701".utf8)
        for field: UInt32 in [
            inode, mode, 0 /* uid */, 0 /* gid */, nlink, mtime, UInt32(contents.count),
            0 /* devmajor */, 0 /* devminor */, rdev.0, rdev.1,
            UInt32(nameBytes.count), 0 /* check */,
        ] {
            appendHex8(field)
        }
        bytes.append(contentsOf: nameBytes)
        padToFour()
        bytes.append(contentsOf: contents)
        padToFour()
    }

    private mutating func appendHex8(_ value: UInt32) {
        let digits = Array("0123456789ABCDEF".utf8)
        for shift in stride(from: 28, through: 0, by: -4) {
            bytes.append(digits[Int((value >> UInt32(shift)) & 0xf)])
        }
    }

    private mutating func padToFour() {
        bytes.append(contentsOf: repeatElement(0, count: CPIOWriter.paddingBeforeAppend(toLength: bytes.count)))
    }
}
