package import Foundation
import Synchronization

/// The long operations started through the API (deploy, decommission, migrate): each runs in
/// a task of its own; a client polls it (`GET /v1/operations/{id}`) or cancels it (`DELETE`),
/// which cancels the task — the orchestrator then rolls back as after Ctrl-C in the CLI.
/// Kept in memory: the newest 1,000 finished ones stay listed.
final class OperationRegistry: Sendable {
    enum Kind: String, Sendable { case deploy, decommission, migrate }
    enum State: String, Sendable { case running, succeeded, failed, cancelled }

    struct Operation: Sendable {
        var id: String
        var kind: Kind
        var cvm: String?
        var state: State
        var startedAt: Date
        var endedAt: Date?
        var progress: [String] = []
        var result: String?
        var error: String?
        var cancelRequested = false
    }

    private struct Entry {
        var operation: Operation
        var task: Task<Void, Never>?
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Told of every operation that ends (kind, final state, duration).
    let onEnd: @Sendable (Kind, State, Duration) -> Void

    init(onEnd: @escaping @Sendable (Kind, State, Duration) -> Void = { _, _, _ in }) {
        self.onEnd = onEnd
    }
    private let order = Mutex<[String]>([])
    static let keptFinished = 1000

    /// Starts `body` as a new operation; `body` reports progress lines and returns what it did
    /// (and the CVM's name, when the operation did not know it).
    func start(_ kind: Kind, cvm: String?,
               _ body: @escaping @Sendable (@escaping @Sendable (String) -> Void) async throws -> (result: String, cvm: String?)) -> Operation {
        let id = UUID().uuidString.lowercased()
        let operation = Operation(id: id, kind: kind, cvm: cvm, state: .running, startedAt: Date())
        entries.withLock { $0[id] = Entry(operation: operation) }
        order.withLock { $0.append(id) }
        let task = Task { [self] in
            let progress: @Sendable (String) -> Void = { [self] line in
                entries.withLock { entries in
                    guard var entry = entries[id] else { return }
                    entry.operation.progress.append(String(line.prefix(300)))
                    if entry.operation.progress.count > 50 { entry.operation.progress.removeFirst() }
                    entries[id] = entry
                }
            }
            let outcome: Result<(result: String, cvm: String?), any Error>
            let began = ContinuousClock.now
            do { outcome = .success(try await body(progress)) } catch { outcome = .failure(error) }
            let ended = entries.withLock { entries -> State? in
                guard var entry = entries[id] else { return nil }
                switch outcome {
                case .success(let done):
                    entry.operation.state = .succeeded
                    entry.operation.result = done.result
                    entry.operation.cvm = entry.operation.cvm ?? done.cvm
                case .failure(let error):
                    entry.operation.state = entry.operation.cancelRequested || error is CancellationError ? .cancelled : .failed
                    entry.operation.error = String("\(error)".prefix(500))
                }
                entry.operation.endedAt = Date()
                entry.task = nil
                entries[id] = entry
                return entry.operation.state
            }
            if let ended { onEnd(kind, ended, ContinuousClock.now - began) }
            prune()
        }
        entries.withLock { $0[id]?.task = task }
        return operation
    }

    func operation(_ id: String) -> Operation? { entries.withLock { $0[id]?.operation } }

    /// Every operation, oldest first.
    func all() -> [Operation] {
        let ids = order.withLock { $0 }
        return entries.withLock { entries in ids.compactMap { entries[$0]?.operation } }
    }

    /// Cancels a running operation; nil when there is none with this id, the operation as it
    /// stands otherwise (`cancelRequested` set if it was running).
    func cancel(_ id: String) -> Operation? {
        let (operation, task) = entries.withLock { entries -> (Operation?, Task<Void, Never>?) in
            guard var entry = entries[id] else { return (nil, nil) }
            guard entry.operation.state == .running else { return (entry.operation, nil) }
            entry.operation.cancelRequested = true
            entries[id] = entry
            return (entry.operation, entry.task)
        }
        task?.cancel()
        return operation
    }

    /// Cancels every running operation and waits for them (the daemon's shutdown).
    func cancelAll() async {
        let tasks = entries.withLock { entries in
            entries.values.compactMap { entry -> Task<Void, Never>? in entry.task }
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    private func prune() {
        let finished = entries.withLock { entries in order.withLock { $0 }.filter { entries[$0]?.operation.state != .running } }
        guard finished.count > Self.keptFinished else { return }
        let dropped = Set(finished.prefix(finished.count - Self.keptFinished))
        entries.withLock { entries in for id in dropped { entries[id] = nil } }
        order.withLock { $0.removeAll { dropped.contains($0) } }
    }
}
