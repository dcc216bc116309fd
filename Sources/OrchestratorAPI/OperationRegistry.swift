package import Foundation
import Orchestrator
import Synchronization

/// The long operations started through the API (deploy, decommission, migrate): each runs in
/// a task of its own; a client polls it (`GET /v1/operations/{id}`) or cancels it (`DELETE`),
/// which cancels the task — the orchestrator then rolls back as after Ctrl-C in the CLI.
///
/// Kept in memory (the newest 1,000 ended ones) and in the store, written when an operation
/// starts, after progress lines (at most once a second) and when it ends, by one writer task
/// in that order: after a
/// restart the daemon still answers for the operations of the one before (those it left
/// running are marked interrupted).
final class OperationRegistry: Sendable {
    enum Kind: String, Sendable {
        case deploy, decommission, migrate
        case policyApply = "policy-apply", clusterCreate = "cluster-create", clusterDelete = "cluster-delete", clusterHeal = "cluster-heal", hostAdd = "host-add", imageBuild = "image-build"
    }
    enum State: String, Sendable { case running, succeeded, failed, cancelled }

    struct Operation: Sendable {
        var id: String
        var kind: Kind
        var cvm: String?
        var state: State
        var startedAt: Date
        var endedAt: Date?
        var progress: [String] = []
        /// How many progress lines there were in all (`progress` keeps the last 50).
        var progressCount = 0
        var result: String?
        var error: String?
        var cancelRequested = false
    }

    private struct Entry {
        var operation: Operation
        var task: Task<Void, Never>?
        /// When a progress line last queued a write to the store.
        var progressSaved: ContinuousClock.Instant?
    }

    /// A progress line queues a write to the store at most this often (the end always does):
    /// a chatty build prints thousands of lines.
    static let progressSaveInterval = Duration.seconds(1)

    /// The operations by id, shared with the writer task.
    private final class Entries: Sendable {
        private let mutex = Mutex<[String: Entry]>([:])
        func withLock<T>(_ body: (inout [String: Entry]) throws -> T) rethrows -> T { try mutex.withLock { try body(&$0) } }
    }
    private let entries = Entries()
    /// Told of every operation that ends (kind, final state, duration).
    let onEnd: @Sendable (Kind, State, Duration) -> Void

    private let store: Store?
    private let writes: AsyncStream<String>.Continuation
    private let writer: Task<Void, Never>

    init(store: Store?, onEnd: @escaping @Sendable (Kind, State, Duration) -> Void = { _, _, _ in }) {
        self.onEnd = onEnd
        self.store = store
        let (stream, continuation) = AsyncStream<String>.makeStream()
        writes = continuation
        let entries = self.entries
        // Each write saves the operation as it stands then, so the last write of an
        // operation is its final state whatever order lines and the end were queued in.
        writer = Task {
            for await id in stream {
                guard let store, let operation = entries.withLock({ $0[id]?.operation }) else { continue }
                try? await store.save(operation: Self.record(operation))
            }
        }
    }

    /// Marks the operations a dead daemon left running as interrupted (before serving).
    func interruptOrphaned() async throws -> Int {
        try await store?.interruptOrphanedOperations() ?? 0
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
        writes.yield(id)
        let task = Task { [self] in
            let progress: @Sendable (String) -> Void = { [self] line in
                let save = entries.withLock { entries -> Bool in
                    guard var entry = entries[id] else { return false }
                    entry.operation.progress.append(String(line.prefix(300)))
                    entry.operation.progressCount += 1
                    if entry.operation.progress.count > 50 { entry.operation.progress.removeFirst() }
                    let now = ContinuousClock.now
                    let due = entry.progressSaved.map { now - $0 >= Self.progressSaveInterval } ?? true
                    if due { entry.progressSaved = now }
                    entries[id] = entry
                    return due
                }
                if save { writes.yield(id) }
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
            writes.yield(id)
            if let ended { onEnd(kind, ended, ContinuousClock.now - began) }
            prune()
        }
        entries.withLock { $0[id]?.task = task }
        return operation
    }

    /// The operation with this id: this daemon's, or one the store keeps from an earlier one.
    func operation(_ id: String) async -> Operation? {
        if let operation = entries.withLock({ $0[id]?.operation }) { return operation }
        return (try? await store?.operation(id: id)).flatMap { $0.flatMap(Self.operation) }
    }

    /// Every operation, oldest first: the store's (earlier daemons' included) with this
    /// daemon's as they stand now.
    func all() async -> [Operation] {
        let ids = order.withLock { $0 }
        let mine = entries.withLock { entries in ids.compactMap { entries[$0]?.operation } }
        let known = Set(ids)
        let stored = ((try? await store?.operations()) ?? []).filter { !known.contains($0.id) }.compactMap(Self.operation)
        return (stored + mine).sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }.suffix(Self.keptFinished)
    }

    /// Cancels a running operation; nil when there is none with this id, the operation as it
    /// stands otherwise (`cancelRequested` set if it was running).
    func cancel(_ id: String) async -> Operation? {
        let (operation, task) = entries.withLock { entries -> (Operation?, Task<Void, Never>?) in
            guard var entry = entries[id] else { return (nil, nil) }
            guard entry.operation.state == .running else { return (entry.operation, nil) }
            entry.operation.cancelRequested = true
            entries[id] = entry
            return (entry.operation, entry.task)
        }
        task?.cancel()
        if task != nil { writes.yield(id) }
        guard let operation else { return await self.operation(id) }
        return operation
    }

    /// Cancels every running operation, waits for them (the daemon's shutdown) and for the
    /// store to have their ends.
    func cancelAll() async {
        let tasks = entries.withLock { entries in
            entries.values.compactMap { entry -> Task<Void, Never>? in entry.task }
        }
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        writes.finish()
        await writer.value
    }

    static func record(_ operation: Operation) -> APIOperationRecord {
        APIOperationRecord(id: operation.id, kind: operation.kind.rawValue, cvm: operation.cvm, state: operation.state.rawValue,
                           startedAt: operation.startedAt, endedAt: operation.endedAt, progress: operation.progress,
                           result: operation.result, error: operation.error, cancelRequested: operation.cancelRequested)
    }

    /// An operation the store keeps (nil for a kind or state this version does not know).
    static func operation(_ record: APIOperationRecord) -> Operation? {
        guard let kind = Kind(rawValue: record.kind), let state = State(rawValue: record.state) else { return nil }
        return Operation(id: record.id, kind: kind, cvm: record.cvm, state: state, startedAt: record.startedAt, endedAt: record.endedAt,
                         progress: record.progressLines, progressCount: record.progressLines.count, result: record.result, error: record.error,
                         cancelRequested: record.cancelRequested)
    }

    private func prune() {
        let finished = entries.withLock { entries in order.withLock { $0 }.filter { entries[$0]?.operation.state != .running } }
        guard finished.count > Self.keptFinished else { return }
        let dropped = Set(finished.prefix(finished.count - Self.keptFinished))
        entries.withLock { entries in for id in dropped { entries[id] = nil } }
        order.withLock { $0.removeAll { dropped.contains($0) } }
    }
}
