import Testing
@testable import TMSCore

@Suite struct SpilloverRouterTests {
    let router = try! SpilloverRouter(chains: BackupChain([
        .init("primary", backup: "backup"), .init("backup", backup: "remote"),
        .init("remote", endAction: .redirect(url: "https://busy.example/")),
        .init("tcp", backup: "tcp-b"), .init("tcp-b"),
    ]))

    @Test func firstVServerThatDoesNotSpillTakesTheRequest() {
        #expect(router.route(primary: "primary") { _ in false } == .vServer("primary", depth: 0))
        #expect(router.route(primary: "primary") { $0 == "primary" } == .vServer("backup", depth: 1))
        #expect(router.route(primary: "primary") { $0 != "remote" } == .vServer("remote", depth: 2))
    }

    @Test func endOfChainRedirectsOrRefuses() {
        #expect(router.route(primary: "primary") { _ in true } == .redirect(url: "https://busy.example/"))
        #expect(router.route(primary: "tcp") { _ in true } == .refuse)
    }

    @Test func returnsToThePrimaryWhenItIsNoLongerFull() {
        var full: Set<VServerID> = ["primary"]
        #expect(router.route(primary: "primary") { full.contains($0) } == .vServer("backup", depth: 1))
        full = []
        #expect(router.route(primary: "primary") { full.contains($0) } == .vServer("primary", depth: 0))
    }

    @Test func persistenceKeepsAClientOnItsBackupUntilTheTimeout() {
        var persistence = SpilloverPersistence(timeout: .seconds(30))
        var full: Set<VServerID> = ["primary"]
        func route(_ client: String, at seconds: Int) -> RouteDecision {
            router.route(primary: "primary", client: client, now: .seconds(seconds), persistence: &persistence) {
                full.contains($0)
            }
        }
        #expect(route("10.0.0.1", at: 0) == .vServer("backup", depth: 1))
        full = []   // the primary has room again
        #expect(route("10.0.0.1", at: 10) == .vServer("backup", depth: 1))   // pinned
        #expect(route("10.0.0.2", at: 10) == .vServer("primary", depth: 0))  // others are not
        #expect(route("10.0.0.1", at: 30) == .vServer("primary", depth: 0))  // pin expired
        // A pinned client whose backup fills moves down the chain and is pinned there.
        full = ["primary"]
        #expect(route("10.0.0.3", at: 40) == .vServer("backup", depth: 1))
        full = ["backup"]
        #expect(route("10.0.0.3", at: 41) == .vServer("remote", depth: 2))
        full = []
        #expect(route("10.0.0.3", at: 42) == .vServer("remote", depth: 2))
        // Pinned, but everything from the pin down is full: back up the chain rather than refuse.
        full = ["remote"]
        #expect(route("10.0.0.3", at: 43) == .vServer("primary", depth: 0))
    }
}
