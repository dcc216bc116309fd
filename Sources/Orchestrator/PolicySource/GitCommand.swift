import Dispatch
import Foundation
import Libvirt
import Synchronization

/// Runs the real `git` binary (found on `PATH`) in one repository directory.
///
/// Only read-only plumbing is used (`rev-parse`, `ls-tree`, `show`), with optional locks off,
/// so reading policies never competes with an operator committing in the same repository.
/// Calls block; ``offPool(_:)`` moves them off Swift's cooperative pool onto a bounded one.
struct GitCommand: Sendable {
    /// Where git runs (`git -C`); any directory inside the working tree, or a bare repository.
    let directory: String

    /// The threads git waits on: a few (reads are short and the policy follower makes them
    /// one at a time), separate from libvirt's so a slow daemon never holds up policy reads.
    static let pool = BlockingWorkPool(name: "cvm.git", maximumThreads: 4)

    /// What one git invocation produced.
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: String

        var text: String { String(decoding: stdout, as: UTF8.self) }
        /// The first line git wrote to stderr, without its `fatal: ` / `error: ` prefix.
        var problem: String {
            let line = stderr.split(separator: "\n").first.map(String.init) ?? "exit status \(status)"
            for prefix in ["fatal: ", "error: "] where line.hasPrefix(prefix) { return String(line.dropFirst(prefix.count)) }
            return line
        }
    }

    /// Runs `git -C directory arguments...` and returns what it printed, whatever its status.
    /// Throws only when git cannot be started at all.
    func output(_ arguments: [String]) throws(PolicySourceError) -> Output {
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_OPTIONAL_LOCKS"] = "0"
        environment["LC_ALL"] = "C"
        let result: LocalProcess.Output
        do {
            result = try LocalProcess.run("/usr/bin/env", ["git", "-C", directory] + arguments, environment: environment)
        } catch {
            throw .gitUnavailable(reason: "\(error)")
        }
        if result.status == 127 {
            throw .gitUnavailable(reason: "`git` is not on PATH")
        }
        return Output(status: result.status, stdout: result.stdout, stderr: String(decoding: result.stderr, as: UTF8.self))
    }

    /// Runs git and returns its stdout; a non-zero exit is an error naming the command.
    func run(_ arguments: [String]) throws(PolicySourceError) -> Data {
        let result = try output(arguments)
        guard result.status == 0 else {
            throw .gitFailed(command: "git " + arguments.joined(separator: " "), repository: directory, problem: result.problem)
        }
        return result.stdout
    }

    /// ``run(_:)`` off the cooperative pool, on ``pool``: a task cancelled before its git
    /// call starts gets `CancellationError` and git is not run; a started git call finishes.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.run(body)
    }
}
