import Planning
import Foundation

/// A git repository holding policy files in one folder (`policies/` by default), read at any
/// ref or commit with real git — never from the working tree, so what is validated, planned
/// and applied is exactly what a commit holds.
public struct PolicyRepository: Sendable, Hashable {
    /// The directory given (`--repo`); any directory inside the working tree works.
    public var directory: String
    /// The policy folder, relative to the repository's root.
    public var folder: String

    public init(directory: String, folder: String = "policies") {
        self.directory = directory
        self.folder = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
    }

    var git: GitCommand { GitCommand(directory: directory) }

    /// The repository's top-level directory (for messages and journal lines). Throws
    /// ``PolicySourceError/notARepository(directory:problem:)`` outside a repository.
    public func root() throws(PolicySourceError) -> String {
        let result = try git.output(["rev-parse", "--show-toplevel"])
        guard result.status == 0 else { throw .notARepository(directory: directory, problem: result.problem) }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The full commit id `ref` names now (a branch, tag, `HEAD`, `HEAD~2`, a full or
    /// abbreviated commit id).
    public func resolve(_ ref: String) throws(PolicySourceError) -> String {
        guard !ref.isEmpty, !ref.hasPrefix("-") else { throw .unknownRef(ref: ref, repository: directory) }
        let result = try git.output(["rev-parse", "--verify", "--quiet", "--end-of-options", ref + "^{commit}"])
        guard result.status == 0 else {
            _ = try root()  // a better message when this is no repository at all
            throw .unknownRef(ref: ref, repository: directory)
        }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `commit` exists in the repository (it may have been garbage-collected, or the
    /// store may have been used with another repository).
    public func contains(commit: String) -> Bool {
        (try? git.output(["cat-file", "-e", "--end-of-options", commit + "^{commit}"]).status) == 0
    }

    /// The `*.yaml` / `*.yml` files directly in the policy folder at `commit`, by path, each
    /// reported as `folder/name` (the form diagnostics show). Subfolders, symlinks and other
    /// files (the README) are not policy files.
    public func policyFiles(at commit: String) throws(PolicySourceError) -> [PolicyFile] {
        let listing = try git.run(["ls-tree", "--full-tree", "-z", commit, "--", folder + "/"])
        var paths: [String] = []
        for entry in listing.split(separator: 0) {
            // "<mode> SP <type> SP <object> TAB <path>"
            let text = String(decoding: entry, as: UTF8.self)
            guard let tab = text.firstIndex(of: "\t") else { continue }
            let fields = text[..<tab].split(separator: " ")
            let path = String(text[text.index(after: tab)...])
            guard fields.count == 3, fields[0] == "100644" || fields[0] == "100755", fields[1] == "blob" else { continue }
            guard path.hasSuffix(".yaml") || path.hasSuffix(".yml") else { continue }
            paths.append(path)
        }
        guard !paths.isEmpty else { throw .noPolicies(commit: commit, folder: folder) }
        return try paths.sorted().map { path throws(PolicySourceError) in
            let text = try git.run(["show", "\(commit):\(path)"])
            return PolicyFile(path: path, text: String(decoding: text, as: UTF8.self))
        }
    }

    /// The first line of the commit message (shown when a commit is adopted or refused).
    public func subject(of commit: String) -> String {
        guard let result = try? git.output(["log", "-1", "--format=%s", commit]), result.status == 0 else { return "" }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
