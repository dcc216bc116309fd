import CVMProtocol
import Foundation
import Libvirt
@testable import Orchestrator
import Testing

/// The local image cache when several deploys of one image stage it at once (elastic mode
/// and the daemon do): each copy has a partial file of its own.
@Suite struct HostStorageTests {
    @Test func concurrentStagingOfOneArtifactSucceedsEverywhereAndLeavesNoPartialFile() throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let artifact = root + "/vmlinuz"
        let bytes = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: artifact))
        let sha256 = Hex.encode(SHA256.hash(bytes))
        let host = HostRecord(
            name: "local", uri: "test:///default", address: nil, user: nil, identity: nil, hostKey: nil,
            zone: "default", latitude: 0, longitude: 0, trust: .local, cpus: 0, memoryMiB: 0, costPerHour: 0,
            latencyMs: nil, dataDir: root + "/data", hypervisors: ["qemu"], addedAt: Date())
        let storage = HostStorage(host: host, connection: try LibvirtConnection(uri: "test:///default"))

        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var results: [Result<String, any Error>] = []
            func add(_ result: Result<String, any Error>) { lock.withLock { results.append(result) } }
        }
        let outcomes = Outcomes()
        let group = DispatchGroup()
        for _ in 0..<6 {
            group.enter()
            Thread.detachNewThread {
                outcomes.add(Result { try storage.stageLocally(artifact: artifact, sha256: sha256) })
                group.leave()
            }
        }
        group.wait()
        let target = storage.cachePath + "/" + sha256
        for result in outcomes.results {
            #expect((try? result.get()) == target, "\(result)")
        }
        #expect(storage.locallyCached(sha256: sha256))
        #expect(try FileManager.default.contentsOfDirectory(atPath: storage.cachePath) == [sha256])
    }
}
