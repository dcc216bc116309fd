import CVMProtocol
import ConfigFile
import Foundation
import Synchronization

/// The traffic manager's scoped admin tokens, the scheme of the orchestrator's API: each
/// token is `tms_<id>_<64 hex digits>`, given to its holder once; the file keeps one line per
/// token, `ID SCOPE SHA256-HEX NAME`, never the token itself (mode 0600, refused when others
/// may read it). Scope `read` may GET /usage, /metrics and /status; `admin` may also
/// POST /reload. Revoking removes the line; the traffic manager re-reads the file when it
/// changes, so a revoked token is refused at its next request.
///
/// `cvmctl tms token create|list|revoke` edits the file; the admin token file (`tokenFile`)
/// keeps working beside it, with the admin scope.
package enum AdminTokens {
    package enum Scope: String, Sendable, CaseIterable, Codable { case read, admin }

    package struct Entry: Sendable, Hashable, Codable {
        package var id: String
        package var scope: Scope
        package var sha256: String
        package var name: String
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    static let prefix = "tms_"

    /// The entries of `path`; none when it does not exist.
    package static func load(path: String) throws(Failure) -> [Entry] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        var status = stat()
        guard stat(path, &status) == 0 else { throw Failure(description: "cannot read tokens file \(path): \(String(cString: strerror(errno)))") }
        guard status.st_mode & 0o077 == 0 else {
            throw Failure(description: "tokens file \(path) is open to other users (mode \(String(status.st_mode & 0o777, radix: 8))); run `chmod 600 \(path)`")
        }
        guard status.st_size <= 1 << 20 else { throw Failure(description: "tokens file \(path) is larger than 1 MiB") }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure(description: "cannot read tokens file \(path) as UTF-8 text")
        }
        var entries: [Entry] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard fields.count == 4, let scope = Scope(rawValue: String(fields[1])), fields[2].utf8.count == 64,
                  fields[2].utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }), !fields[0].isEmpty else {
                throw Failure(description: "tokens file \(path):\(number + 1): expected `ID SCOPE SHA256 NAME`")
            }
            entries.append(Entry(id: String(fields[0]), scope: scope, sha256: String(fields[2]), name: String(fields[3])))
        }
        return entries
    }

    /// A new token of `scope`, recorded in `path` (created 0600 in a 0700 directory when
    /// missing). Returns the token (shown once) and its entry.
    package static func create(path: String, name: String, scope: Scope) throws(Failure) -> (token: String, entry: Entry) {
        guard !name.isEmpty, name.count <= 64, !name.contains("\n") else { throw Failure(description: "a token name has 1 to 64 characters on one line") }
        var entries = try load(path: path)
        var generator = SystemRandomNumberGenerator()
        func hex(_ count: Int) -> String { (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined() }
        var id = hex(4)
        while entries.contains(where: { $0.id == id }) { id = hex(4) }
        let token = "\(prefix)\(id)_\(hex(32))"
        let entry = Entry(id: id, scope: scope, sha256: hash(token), name: name)
        entries.append(entry)
        try save(entries, to: path)
        return (token, entry)
    }

    /// Removes the token `id`; false when there is none.
    package static func revoke(path: String, id: String) throws(Failure) -> Bool {
        var entries = try load(path: path)
        guard let index = entries.firstIndex(where: { $0.id == id }) else { return false }
        entries.remove(at: index)
        try save(entries, to: path)
        return true
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The whole file anew beside it, then renamed over it (a reader never sees half of it).
    private static func save(_ entries: [Entry], to path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        let text = entries.map { "\($0.id) \($0.scope.rawValue) \($0.sha256) \($0.name)\n" }.joined()
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let complete = written == bytes.count && fchmod(fd, 0o600) == 0 && fsync(fd) == 0
        close(fd)
        guard complete, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Failure(description: "cannot write tokens file \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The tokens file as the admin endpoint reads it: re-read when its modification time or
/// size changed (one `stat` per request). A file that became unreadable or open to others
/// grants nothing until it is fixed.
final class AdminTokenTable: Sendable {
    let path: String
    private let state = Mutex<(stamp: [Int], entries: [String: AdminTokens.Scope])>(([], [:]))

    init(path: String) {
        self.path = path
    }

    /// The scope of `token`, if the file holds it.
    func scope(of token: String) -> AdminTokens.Scope? {
        guard token.hasPrefix(AdminTokens.prefix), token.utf8.count <= 128 else { return nil }
        var status = stat()
        let stamp = stat(path, &status) == 0 ? [Int(status.st_mtim.tv_sec), Int(status.st_mtim.tv_nsec), Int(status.st_size), Int(status.st_mode)] : []
        let entries = state.withLock { current -> [String: AdminTokens.Scope]? in current.stamp == stamp && !stamp.isEmpty ? current.entries : nil }
            ?? reload(stamp: stamp)
        return entries[AdminTokens.hash(token)]
    }

    private func reload(stamp: [Int]) -> [String: AdminTokens.Scope] {
        let entries = (try? AdminTokens.load(path: path)) ?? []
        let table = Dictionary(entries.map { ($0.sha256, $0.scope) }, uniquingKeysWith: { a, _ in a })
        state.withLock { $0 = (stamp, table) }
        return table
    }
}
