import Foundation
import Logging

/// The image catalog: one folder per image under a root (`images/`), each with a
/// `manifest.yaml`, a recipe, and after a build a `build/` folder holding the artifacts
/// and `manifest.lock`.
public struct ImageCatalog: Sendable {
    public let root: String

    /// `root` may be relative; it is resolved against the current directory now, because
    /// artifact paths are handed to libvirtd, which has its own working directory.
    public init(root: String) {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        self.root = (absolute as NSString).standardizingPath
    }

    /// An image ready to deploy: manifest, lock, and absolute artifact paths.
    public struct VerifiedImage: Sendable, Equatable {
        public var manifest: ImageManifest
        public var lock: ImageLock
        public var buildDirectory: String

        public func path(of artifact: String) -> String? {
            manifest.artifact(artifact).map { (buildDirectory as NSString).appendingPathComponent($0.file) }
        }

        public func sha256(of artifact: String) -> String? { lock.artifacts[artifact]?.sha256 }
    }

    /// Names of the folders that hold a manifest.
    public func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return entries.filter { FileManager.default.fileExists(atPath: manifestPath($0)) }.sorted()
    }

    func folder(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
    func manifestPath(_ name: String) -> String { (folder(name) as NSString).appendingPathComponent("manifest.yaml") }
    func buildDirectory(_ name: String) -> String { (folder(name) as NSString).appendingPathComponent("build") }
    func lockPath(_ name: String) -> String { (buildDirectory(name) as NSString).appendingPathComponent("manifest.lock") }

    /// An image name is a folder name of the catalog and nothing else: lowercase letters,
    /// digits, '.', '_' and '-', starting with a letter or digit (so never `.` or `..`).
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 64,
              (first >= "a" && first <= "z") || (first >= "0" && first <= "9") else { return false }
        return name.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    public func manifest(_ name: String) throws -> ImageManifest {
        guard Self.isValidName(name), FileManager.default.fileExists(atPath: manifestPath(name)) else {
            throw OrchestratorError.unknownImage(name, available: names())
        }
        let manifest = try ImageManifest.load(file: manifestPath(name))
        try confine(manifest, of: name)
        return manifest
    }

    /// The recipe and the artifacts a manifest names must stay inside the image's folder
    /// (and its `build/`): a manifest cannot make the orchestrator run or ship other files.
    func confine(_ manifest: ImageManifest, of name: String) throws {
        let folder = (self.folder(name) as NSString).resolvingSymlinksInPath
        let recipe = ((folder as NSString).appendingPathComponent(manifest.recipe) as NSString).resolvingSymlinksInPath
        guard !manifest.recipe.hasPrefix("/"), recipe.hasPrefix(folder + "/") else {
            throw OrchestratorError.invalidArgument("\(manifestPath(name)): recipe '\(manifest.recipe)' is outside the image's folder; name a script inside \(self.folder(name))")
        }
        for artifact in manifest.artifacts {
            let parts = artifact.file.split(separator: "/", omittingEmptySubsequences: false)
            guard !artifact.file.hasPrefix("/"), !parts.contains(where: { $0 == ".." || $0.isEmpty }) else {
                throw OrchestratorError.invalidArgument("\(manifestPath(name)): artifact '\(artifact.name)' file '\(artifact.file)' is outside the build folder; name a file inside build/")
            }
        }
    }

    public func lock(_ name: String) throws -> ImageLock? {
        do {
            return try ImageLock.load(path: lockPath(name))
        } catch {
            throw OrchestratorError.invalidArgument("image '\(name)': \(lockPath(name)) is unreadable (\(error)); rebuild with `cvmctl image build \(name)`")
        }
    }

    /// Loads the manifest and lock and checks every artifact's sha256 against the lock.
    /// Called before every deploy: a corrupted or replaced artifact is refused.
    public func verified(_ name: String) throws -> VerifiedImage {
        let manifest = try manifest(name)
        guard let lock = try lock(name) else { throw OrchestratorError.imageNotBuilt(name) }
        let build = buildDirectory(name)
        for artifact in manifest.artifacts {
            let path = (build as NSString).appendingPathComponent(artifact.file)
            guard let expected = lock.artifacts[artifact.name] else { throw OrchestratorError.imageNotBuilt(name) }
            guard FileManager.default.fileExists(atPath: path) else {
                throw OrchestratorError.artifactMissing(image: name, artifact: artifact.name, file: path)
            }
            let actual = try FileDigest.sha256(path: path)
            guard actual.hex == expected.sha256 else {
                throw OrchestratorError.artifactCorrupted(image: name, artifact: artifact.name, file: path,
                                                          expected: expected.sha256, actual: actual.hex)
            }
        }
        return VerifiedImage(manifest: manifest, lock: lock, buildDirectory: build)
    }

    /// Runs the image's recipe into `build/`, then records every artifact's sha256 in the lock.
    /// The recipe's output goes to the caller's stdout/stderr.
    public func build(_ name: String, logger: Logger) throws -> ImageLock {
        let (manifest, process) = try recipe(name, logger: logger)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OrchestratorError.imageBuildFailed(name, status: process.terminationStatus)
        }
        return try recordLock(name, manifest: manifest)
    }

    /// The same build for a caller that cannot block a thread on it (the API): the recipe's
    /// output, stdout and stderr, goes line by line to `output`; cancelling the task stops the
    /// recipe and what it started (SIGKILL to its process group) and throws `CancellationError`. The image then has no lock (it is not
    /// built) until a build succeeds.
    public func build(_ name: String, logger: Logger, output: @escaping @Sendable (String) -> Void) async throws -> ImageLock {
        let (manifest, process) = try recipe(name, logger: logger)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let lines = LineSplitter(output)
        let end = RecipeEnd()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                end.outputEnded()
            } else {
                lines.feed(data)
            }
        }
        nonisolated(unsafe) let running = process
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                end.start(continuation)
                running.terminationHandler = { end.exited($0.terminationStatus) }
                do { try running.run() } catch { end.failed(error) }
            }
        } onCancel: {
            // Foundation starts the recipe as the leader of a process group of its own: the
            // signal reaches what the recipe started too. SIGKILL, because a daemon that
            // handles SIGTERM itself (service-lifecycle) ignores it, and its children inherit that.
            if running.isRunning { kill(-running.processIdentifier, SIGKILL) }
        }
        pipe.fileHandleForReading.readabilityHandler = nil
        lines.flush()
        try Task.checkCancellation()
        guard status == 0 else { throw OrchestratorError.imageBuildFailed(name, status: status) }
        return try recordLock(name, manifest: manifest)
    }

    /// The recipe's process for `name` (not started), after the old lock is removed.
    private func recipe(_ name: String, logger: Logger) throws -> (ImageManifest, Process) {
        let manifest = try manifest(name)
        let recipe = (folder(name) as NSString).appendingPathComponent(manifest.recipe)
        let out = buildDirectory(name)
        let repoRoot = ((root as NSString).standardizingPath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: lockPath(name))
        logger.debug("running image recipe", metadata: ["cvm.image": "\(name)", "cvm.recipe": "\(recipe)"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [recipe, out, repoRoot]
        return (manifest, process)
    }

    /// Checksums every artifact the recipe made and writes the lock.
    private func recordLock(_ name: String, manifest: ImageManifest) throws -> ImageLock {
        let out = buildDirectory(name)
        var entries: [String: ImageLock.Entry] = [:]
        for artifact in manifest.artifacts {
            let path = (out as NSString).appendingPathComponent(artifact.file)
            guard FileManager.default.fileExists(atPath: path) else {
                throw OrchestratorError.artifactMissing(image: name, artifact: artifact.name, file: path)
            }
            let digest = try FileDigest.sha256(path: path)
            entries[artifact.name] = ImageLock.Entry(file: artifact.file, sha256: digest.hex, bytes: digest.bytes)
        }
        let inputs = (try? String(contentsOfFile: (out as NSString).appendingPathComponent("inputs.txt"), encoding: .utf8))?
            .split(separator: "\n").map(String.init) ?? []
        let lock = ImageLock(image: manifest.name, version: manifest.version, builtAt: Date(),
                             artifacts: entries, inputs: inputs)
        try lock.write(path: lockPath(name))
        return lock
    }
}

/// Cuts a byte stream into lines (each at most 300 characters) for a progress callback.
private final class LineSplitter: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = Data()
    private let output: @Sendable (String) -> Void

    init(_ output: @escaping @Sendable (String) -> Void) { self.output = output }

    func feed(_ data: Data) {
        let lines: [String] = lock.withLock {
            pending.append(data)
            var lines: [String] = []
            while let newline = pending.firstIndex(of: 0x0A) {
                lines.append(String(decoding: pending[pending.startIndex..<newline].prefix(300), as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
            if pending.count > 64 << 10 { pending.removeAll() }
            return lines
        }
        for line in lines where !line.isEmpty { output(line) }
    }

    func flush() {
        let rest = lock.withLock { () -> String in
            defer { pending.removeAll() }
            return String(decoding: pending.prefix(300), as: UTF8.self)
        }
        if !rest.isEmpty { output(rest) }
    }
}

/// When a recipe is over: it exited and its output was read to the end, or 2 s after it
/// exited when something it left running still holds the output open. Resumes once.
private final class RecipeEnd: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Int32, any Error>?
    private var status: Int32?
    private var outputDone = false
    private var resumed = false

    func start(_ continuation: CheckedContinuation<Int32, any Error>) { lock.withLock { self.continuation = continuation } }

    func exited(_ status: Int32) {
        lock.withLock { self.status = status }
        finishIfOver()
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
            lock.withLock { outputDone = true }
            finishIfOver()
        }
    }

    func outputEnded() {
        lock.withLock { outputDone = true }
        finishIfOver()
    }

    func failed(_ error: any Error) {
        let continuation: CheckedContinuation<Int32, any Error>? = lock.withLock {
            guard !resumed else { return nil }
            resumed = true
            return self.continuation
        }
        continuation?.resume(throwing: error)
    }

    private func finishIfOver() {
        let ready: (CheckedContinuation<Int32, any Error>, Int32)? = lock.withLock {
            guard !resumed, outputDone, let status, let continuation else { return nil }
            resumed = true
            return (continuation, status)
        }
        if let (continuation, status) = ready { continuation.resume(returning: status) }
    }
}
