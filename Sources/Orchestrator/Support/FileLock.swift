import Foundation

/// An exclusive advisory lock on a file (flock(2)): other processes, and other threads of this
/// one (each opens its own descriptor), wait; a process that dies releases it.
enum FileLock {
    /// Runs `body` holding the lock on `path` (created 0600 when missing). Never nest two on the
    /// same path in one thread: the second would wait for the first forever.
    /// - Throws: ``Failure`` when the lock file cannot be opened, or what `body` throws.
    static func withExclusive<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let lock = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(lock, LOCK_UN) }
        return try body()
    }

    struct Failure: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot create \(path): \(reason)" }
    }
}
