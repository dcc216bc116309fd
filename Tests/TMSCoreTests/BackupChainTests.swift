import PropertyBased
import Testing
@testable import TMSCore

@Suite struct BackupChainTests {
    @Test func followsBackupsToAnyDepth() throws {
        let chains = try BackupChain([
            .init("web", backup: "web-b1"), .init("web-b1", backup: "web-b2"),
            .init("web-b2", backup: "cvm-remote"), .init("cvm-remote", endAction: .redirect(url: "https://sorry.example/")),
        ])
        #expect(chains.chain(from: "web") == ["web", "web-b1", "web-b2", "cvm-remote"])
        #expect(chains.chain(from: "web-b2") == ["web-b2", "cvm-remote"])
        #expect(chains.endAction(from: "web") == .redirect(url: "https://sorry.example/"))
    }

    @Test func rejectsACycleNamingIt() {
        #expect(throws: BackupChainError.cycle(["a", "b", "c", "a"])) {
            try BackupChain([.init("a", backup: "b"), .init("b", backup: "c"), .init("c", backup: "a"), .init("d", backup: "a")])
        }
        #expect(throws: BackupChainError.cycle(["x", "x"])) { try BackupChain([.init("x", backup: "x")]) }
        #expect(BackupChainError.cycle(["a", "b", "a"]).description == "backup chain has a cycle: a -> b -> a")
    }

    @Test func rejectsUnknownAndDuplicateVServers() {
        #expect(throws: BackupChainError.unknownBackup(of: "a", backup: "nope")) {
            try BackupChain([.init("a", backup: "nope")])
        }
        #expect(throws: BackupChainError.duplicateVServer("a")) { try BackupChain([.init("a"), .init("a")]) }
    }

    @Test func acceptsExactlyTheAcyclicTopologies() async {
        // Random "backup of i" maps over 8 vServers (-1: none): compare with a brute-force walk.
        await propertyCheck(input: Gen.int(in: -1...7).array(of: 8)) { backups in
            let ids = (0..<8).map { VServerID("v\($0)") }
            let entries = backups.enumerated().map { index, backup in
                BackupChain.Entry(ids[index], backup: backup >= 0 ? ids[backup] : nil)
            }
            func loops(from start: Int) -> Bool {
                var node = start
                for _ in 0..<9 {
                    guard backups[node] >= 0 else { return false }
                    node = backups[node]
                }
                return true
            }
            let hasCycle = (0..<8).contains(where: loops)
            do throws(BackupChainError) {
                let chains = try BackupChain(entries)
                #expect(!hasCycle)
                for id in ids { #expect(Set(chains.chain(from: id)).count == chains.chain(from: id).count) }
            } catch {
                #expect(hasCycle)
                if case .cycle(let cycle) = error { #expect(cycle.first == cycle.last && cycle.count >= 2) }
            }
        }
    }
}
