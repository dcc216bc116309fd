import Planning
/// Why policies could not be read from git, or were refused. Each `description` is one line
/// saying what went wrong and what to do.
public enum PolicySourceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `git` could not be started.
    case gitUnavailable(reason: String)
    /// The directory is not inside a git repository.
    case notARepository(directory: String, problem: String)
    /// The ref or commit does not name a commit in the repository.
    case unknownRef(ref: String, repository: String)
    /// The commit has no policy files in the policy folder.
    case noPolicies(commit: String, folder: String)
    /// Any other git failure.
    case gitFailed(command: String, repository: String, problem: String)
    /// The commit's policies do not validate: it is refused.
    case invalid(commit: String, ref: String, error: PolicyValidationError, inForce: String?)

    public var description: String {
        switch self {
        case let .gitUnavailable(reason):
            return "cannot run git: \(reason); install git (apt-get install git)"
        case let .notARepository(directory, problem):
            return "\(directory): \(problem); pass --repo DIR of the git repository holding policies/"
        case let .unknownRef(ref, repository):
            return "'\(ref)' is not a commit, branch or tag in \(repository); see `git -C \(repository) log --oneline`"
        case let .noPolicies(commit, folder):
            return "commit \(commit.prefix(12)) has no \(folder)/*.yaml files; commit the policies under \(folder)/"
        case let .gitFailed(command, repository, problem):
            return "\(command) failed in \(repository): \(problem)"
        case let .invalid(commit, ref, error, inForce):
            let count = error.diagnostics.count
            let keeping = inForce.map { "policy commit \($0.prefix(12)) stays in force" } ?? "no valid policy commit is in force"
            return "policy commit \(commit.prefix(12)) (\(ref)) is refused: \(count) error\(count == 1 ? "" : "s"), first \(error.diagnostics[0].brief); \(keeping); see `cvmctl policy validate --ref \(commit.prefix(12))`"
        }
    }
}

extension PolicyDiagnostic {
    /// `file:line:column: key: message`, for quoting one diagnostic inside another line.
    var brief: String {
        "\(location): \(key.isEmpty ? "" : key + ": ")\(message)"
    }
}
