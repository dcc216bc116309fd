import CVMProtocol
import Foundation
import Logging
@testable import Orchestrator
import Testing

@Suite struct ImageCatalogTests {
    /// A catalog with one small image whose "recipe" writes two artifacts.
    static func makeCatalog() throws -> (ImageCatalog, String) {
        let root = try Fixtures.temporaryDirectory()
        let folder = root + "/images/tiny"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ImageManifestTests.valid.replacingOccurrences(of: "name: cvm-base", with: "name: tiny")
            .write(toFile: folder + "/manifest.yaml", atomically: true, encoding: .utf8)
        try """
        set -e
        out="$1"
        printf 'kernel bytes' > "$out/vmlinuz"
        printf 'initrd bytes' > "$out/initrd.img"
        echo "recipe-input: test" > "$out/inputs.txt"
        """.write(toFile: folder + "/recipe.sh", atomically: true, encoding: .utf8)
        return (ImageCatalog(root: root + "/images"), root)
    }

    @Test func buildRecordsChecksumsAndVerifyAcceptsThem() throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(catalog.names() == ["tiny"])
        #expect(throws: OrchestratorError.imageNotBuilt("tiny")) { try catalog.verified("tiny") }
        let lock = try catalog.build("tiny", logger: Logger(label: "test"))
        #expect(lock.artifacts["kernel"]?.sha256 == Hex.encode(SHA256.hash(Array("kernel bytes".utf8))))
        #expect(lock.inputs == ["recipe-input: test"])
        let image = try catalog.verified("tiny")
        #expect(image.path(of: "initrd")?.hasSuffix("/build/initrd.img") == true)
    }

    @Test func corruptedArtifactIsRefused() throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try catalog.build("tiny", logger: Logger(label: "test"))
        try "kernel bytez".write(toFile: root + "/images/tiny/build/vmlinuz", atomically: true, encoding: .utf8)
        do {
            _ = try catalog.verified("tiny")
            Issue.record("a corrupted artifact was accepted")
        } catch let error as OrchestratorError {
            guard case .artifactCorrupted(_, let artifact, _, _, _) = error else { Issue.record("wrong error \(error)"); return }
            #expect(artifact == "kernel")
            #expect(error.description.contains("refusing"))
        }
    }

    @Test func missingArtifactAndUnknownImageAreReported() throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try catalog.build("tiny", logger: Logger(label: "test"))
        try FileManager.default.removeItem(atPath: root + "/images/tiny/build/initrd.img")
        #expect(throws: OrchestratorError.self) { try catalog.verified("tiny") }
        #expect(throws: OrchestratorError.unknownImage("nope", available: ["tiny"])) { try catalog.verified("nope") }
        #expect(throws: OrchestratorError.unknownImage("../tiny", available: ["tiny"])) { try catalog.verified("../tiny") }
    }

    @Test func failingRecipeIsReported() throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "exit 3".write(toFile: root + "/images/tiny/recipe.sh", atomically: true, encoding: .utf8)
        #expect(throws: OrchestratorError.imageBuildFailed("tiny", status: 3)) { try catalog.build("tiny", logger: Logger(label: "t")) }
    }

    @Test(arguments: ["..", ".", ".hidden", "Tiny", "a/b", "", "tiny\u{0}", String(repeating: "a", count: 65)])
    func namesOutsideTheCatalogAreRefused(_ name: String) throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A manifest in the catalog's parent must not be reachable as image "..".
        try ImageManifestTests.valid.write(toFile: root + "/images/../manifest.yaml", atomically: true, encoding: .utf8)
        #expect(!ImageCatalog.isValidName(name))
        #expect(throws: OrchestratorError.self) { try catalog.manifest(name) }
    }

    @Test(arguments: [("recipe: recipe.sh", "recipe: ../../evil.sh", "recipe"), ("recipe: recipe.sh", "recipe: /bin/sh", "recipe"),
                      ("file: vmlinuz", "file: ../../etc/shadow", "artifact")])
    func manifestPathsStayInTheImageFolder(_ change: (String, String, String)) throws {
        let (catalog, root) = try Self.makeCatalog()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/images/tiny/manifest.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: change.0, with: change.1).write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try catalog.manifest("tiny")
            Issue.record("a manifest naming \(change.1) was accepted")
        } catch {
            // One line naming what is wrong (the manifest reader already refuses a path as an
            // artifact file; the catalog refuses a recipe outside the folder).
            let line = "\(error)"
            #expect(line.contains(change.2) && (line.contains("outside") || line.contains("inside the build folder")), "\(line)")
        }
    }
}
