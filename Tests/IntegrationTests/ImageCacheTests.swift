import Foundation
@testable import Orchestrator
import Testing

/// The host's content-addressed image cache is trusted by content, not by name and size.
@Suite(.serialized) struct ImageCacheTests {
    struct Deployed: Decodable { var name: String; var created: Bool }

    @Test("a cached artifact corrupted in place (same size) is replaced, and the next CVM boots")
    func corruptLocalCacheIsReplaced() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.json(Deployed.self, "deploy", "--image", "cvm-base", "--name", "cache-a").created)
        #expect(try cli.run("decommission", "cache-a", "--grace", "0").status == 0)

        let cache = cli.state + "/local/images"
        let cached = try ImageCacheTests.artifacts(in: cache)
        #expect(cached.count == 2, "kernel and initrd cached: \(cached)")
        for path in cached { try ImageCacheTests.flipByte(in: path) }

        let second = try cli.run("deploy", "--image", "cvm-base", "--name", "cache-b", "--timeout", "60")
        #expect(second.status == 0, "\(second.stderr)")
        for path in cached {
            #expect(try FileDigest.sha256(path: path).hex == (path as NSString).lastPathComponent, "\(path) replaced by a good copy")
        }
        #expect(try cli.run("decommission", "cache-b", "--grace", "0").status == 0)
        #expect((try FileManager.default.contentsOfDirectory(atPath: cache)).allSatisfy { !$0.contains(".part") })
    }

    /// Where a cache directory keeps the built cvm-base's kernel and initrd (named by sha256).
    static func artifacts(in directory: String) throws -> [String] {
        let build = CLIHarness.repoRoot + "/images/cvm-base/build/"
        return try ["vmlinuz", "initrd.img"].map { directory + "/" + (try FileDigest.sha256(path: build + $0).hex) }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Inverts the byte in the middle of the file: same size, other content.
    static func flipByte(in path: String) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: [~byte])
    }
}
