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
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OrchestratorError.imageBuildFailed(name, status: process.terminationStatus)
        }
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
