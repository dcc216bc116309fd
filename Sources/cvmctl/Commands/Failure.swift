import ArgumentParser
import Foundation
import Orchestrator

/// Runs a command body and turns any error into one line on stderr and a non-zero exit.
func reportingErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as OrchestratorError where { if case .interrupted = error { return true } else { return false } }() {
        writeAll("cvmctl: \(error)\n", to: 2)
        throw ExitCode(130)
    } catch is CancellationError {
        writeAll("cvmctl: interrupted; nothing was left behind\n", to: 2)
        throw ExitCode(130)
    } catch {
        let line = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        writeAll("cvmctl: error: \(line)\n", to: 2)
        throw ExitCode.failure
    }
}

/// Runs `body` as a task that SIGINT/SIGTERM cancel, so long operations roll back cleanly.
func cancellableOnSignal<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await body() }
    let sources = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler { task.cancel() }
        source.resume()
        return source
    }
    defer { sources.forEach { $0.cancel() } }
    return try await task.value
}
