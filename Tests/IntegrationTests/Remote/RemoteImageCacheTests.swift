import Foundation
@testable import Orchestrator
import Testing

/// A test-bed host's image cache: a cached file of the right name and size but the wrong
/// content is found out by `sha256sum` on the host and uploaded again.
@Suite(.serialized) struct RemoteImageCacheTests {
    @Test func corruptRemoteCacheIsUploadedAgain() throws {
        let cli = try CLIHarness()
        defer { cli.cleanUp() }
        #expect(try cli.addTestBedHost("c2", index: 0).status == 0)
        let first = try cli.run("deploy", "--image", "cvm-base", "--name", "rcache-a", "--host", "c2")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try cli.run("decommission", "rcache-a", "--grace", "0").status == 0)

        let host = try #require(try TestBedHosts.load().hosts.first)
        let octet = try #require(host.address.split(separator: ".").last)
        let cache = TestBedHosts.state + "/h\(octet)/root/var/lib/cvm/images"
        let cached = try ImageCacheTests.artifacts(in: cache)
        #expect(cached.count == 2, "kernel and initrd cached on the host: \(cached)")
        for path in cached { try ImageCacheTests.flipByte(in: path) }

        let second = try cli.run("deploy", "--image", "cvm-base", "--name", "rcache-b", "--host", "c2", "--timeout", "90")
        #expect(second.status == 0, "\(second.stderr)")
        for path in cached {
            #expect(try FileDigest.sha256(path: path).hex == (path as NSString).lastPathComponent, "\(path) uploaded again")
        }
        #expect(try cli.run("decommission", "rcache-b", "--grace", "0").status == 0)
        #expect(try cli.remoteTraces(of: "rcache-b") == [])
    }
}
