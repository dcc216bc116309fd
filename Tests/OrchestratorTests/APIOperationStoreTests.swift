import Foundation
import Logging
@testable import Orchestrator
import Testing

/// The API's operations as the store keeps them, and the async image build behind
/// `POST /v1/images/{name}/build`.
@Suite struct APIOperationStoreTests {
    static func record(_ id: String, state: String = "running", at: Date = Date()) -> APIOperationRecord {
        APIOperationRecord(id: id, kind: "deploy", cvm: "a", state: state, startedAt: at, endedAt: nil,
                           progress: ["one", "two \"quoted\""], result: nil, error: nil, cancelRequested: false)
    }

    @Test func keptAcrossOpeningsWithTheirProgress() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var operation = Self.record("op1")
        try await Store(directory: dir).save(operation: operation)
        operation.state = "succeeded"
        operation.result = "deployed a"
        try await Store(directory: dir).save(operation: operation)
        let read = try #require(try await Store(directory: dir).operation(id: "op1"))
        #expect(read.state == "succeeded" && read.result == "deployed a" && read.progressLines == ["one", "two \"quoted\""])
        #expect(try await Store(directory: dir).operation(id: "nope") == nil)
    }

    @Test func onlyOperationsOfDeadDaemonsAreInterrupted() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        try await store.save(operation: Self.record("mine"))
        var dead = Self.record("dead")
        dead.ownerPID = Int32.max - 1  // no such process
        try await store.save(operation: dead)
        var reused = Self.record("reused")
        reused.ownerStart = (ProcessLiveness.currentStart ?? 0) + 1  // this pid, another start: a reused pid
        try await store.save(operation: reused)
        var ended = Self.record("ended", state: "succeeded")
        ended.ownerPID = Int32.max - 1
        try await store.save(operation: ended)

        #expect(try await store.interruptOrphanedOperations() == 2)
        #expect(try await store.operation(id: "mine")?.state == "running")
        for id in ["dead", "reused"] {
            let operation = try #require(try await store.operation(id: id))
            #expect(operation.state == "failed" && operation.endedAt != nil && operation.error?.hasPrefix("interrupted") == true)
        }
        #expect(try await store.operation(id: "ended")?.state == "succeeded")
        #expect(try await store.interruptOrphanedOperations() == 0)
    }

    @Test func theNewestEndedOnesAreKept() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        try await store.save(operation: Self.record("still-running", at: start))
        for n in 0..<(APIOperationRecord.keptEnded + 5) {
            try await store.save(operation: Self.record("op\(n)", state: "succeeded", at: start.addingTimeInterval(Double(n + 1))))
        }
        let all = try await store.operations(limit: 5000)
        #expect(all.count == APIOperationRecord.keptEnded + 1)
        #expect(all.first?.id == "still-running" && all.last?.id == "op\(APIOperationRecord.keptEnded + 4)")
        #expect(try await store.operation(id: "op4") == nil)
        #expect(try await store.operation(id: "op5") != nil)
        #expect(try await store.operations(limit: 2).map(\.id) == ["op\(APIOperationRecord.keptEnded + 3)", "op\(APIOperationRecord.keptEnded + 4)"])
    }

    /// Lines from a recipe, collected.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
    }

    @Test func anAsyncBuildStreamsTheRecipesLines() async throws {
        let (catalog, root) = try ImageCatalogTests.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let recipe = root + "/images/tiny/recipe.sh"
        try (try String(contentsOfFile: recipe, encoding: .utf8) + "\necho to-stdout\necho to-stderr >&2\nprintf 'no newline'\n")
            .write(toFile: recipe, atomically: true, encoding: .utf8)
        let lines = Lines()
        let lock = try await catalog.build("tiny", logger: Logger(label: "t"), output: lines.add)
        #expect(lock.artifacts.count == 2)
        #expect(try catalog.verified("tiny").lock.artifacts == lock.artifacts)
        #expect(lines.all.contains("to-stdout") && lines.all.contains("to-stderr") && lines.all.last == "no newline", "\(lines.all)")
    }

    @Test func anAsyncBuildFailsWithTheRecipesStatus() async throws {
        let (catalog, root) = try ImageCatalogTests.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "echo broken; exit 3".write(toFile: root + "/images/tiny/recipe.sh", atomically: true, encoding: .utf8)
        let lines = Lines()
        await #expect(throws: OrchestratorError.imageBuildFailed("tiny", status: 3)) {
            try await catalog.build("tiny", logger: Logger(label: "t"), output: lines.add)
        }
        #expect(lines.all == ["broken"])
    }

    @Test func cancellingAnAsyncBuildStopsTheRecipeAndWhatItStarted() async throws {
        let (catalog, root) = try ImageCatalogTests.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let marker = "\(root)/child-\(UUID().uuidString.prefix(8))"
        // The recipe starts a child of its own (a subshell sleeping) and waits for it.
        try "(exec -a \(marker) sleep 60) & echo started; wait".write(toFile: root + "/images/tiny/recipe.sh", atomically: true, encoding: .utf8)
        let lines = Lines()
        let build = Task { try await catalog.build("tiny", logger: Logger(label: "t"), output: lines.add) }
        let deadline = ContinuousClock.now + .seconds(10)
        while !lines.all.contains("started"), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let began = ContinuousClock.now
        build.cancel()
        await #expect(throws: CancellationError.self) { try await build.value }
        // Not the recipe's 60 s (loose: a busy two-core suite delays any task by seconds).
        #expect(ContinuousClock.now - began < .seconds(30))
        try await Task.sleep(for: .milliseconds(300))
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard Int(pid) != nil, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
        #expect(left.isEmpty, "the recipe's child still runs")
        #expect(throws: OrchestratorError.imageNotBuilt("tiny")) { try catalog.verified("tiny") }
    }
}

@Suite struct EventFilterTests {
    @Test func kindIsAPrefixCVMExactSinceInclusive() {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let event = EventRecord(at: at, kind: "deploy.done", cvm: "a", message: "m")
        #expect(EventFilter().matches(event))
        #expect(EventFilter(kind: "deploy.").matches(event) && !EventFilter(kind: "migrate").matches(event))
        #expect(EventFilter(cvm: "a").matches(event) && !EventFilter(cvm: "ab").matches(event))
        #expect(EventFilter(since: at).matches(event) && !EventFilter(since: at.addingTimeInterval(0.001)).matches(event))
        #expect(!EventFilter(kind: "deploy", cvm: "b").matches(event))
        #expect(!EventFilter(cvm: "a").matches(EventRecord(at: at, kind: "host.added", message: "m")))
    }
}
