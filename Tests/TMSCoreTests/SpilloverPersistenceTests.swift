import Testing
@testable import TMSCore

@Suite struct SpilloverPersistenceTests {
    @Test func pinsExpireAtTheTimeout() {
        var persistence = SpilloverPersistence(timeout: .seconds(5))
        persistence.record(client: "c1", target: "b", now: .seconds(1))
        #expect(persistence.target(for: "c1", now: .seconds(1)) == "b")
        #expect(persistence.target(for: "c1", now: .milliseconds(5_999)) == "b")
        #expect(persistence.target(for: "c1", now: .seconds(6)) == nil)
        #expect(persistence.target(for: "c2", now: .seconds(1)) == nil)
    }

    @Test func removesExpiredAndForgotten() {
        var persistence = SpilloverPersistence(timeout: .seconds(5))
        persistence.record(client: "a", target: "b", now: .seconds(0))
        persistence.record(client: "c", target: "b", now: .seconds(4))
        persistence.record(client: "d", target: "b", now: .seconds(4))
        #expect(persistence.removeExpired(now: .seconds(5)) == 1)
        persistence.forget(client: "d")
        #expect(persistence.count == 1)
        #expect(persistence.target(for: "c", now: .seconds(8)) == "b")
    }
}
