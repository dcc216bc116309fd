import Foundation
@testable import Orchestrator
import Testing

@Suite struct ElasticCooldownStoreTests {
    @Test("the store keeps the cooldowns")
    func stored() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        #expect(try store.elasticCooldowns().isEmpty)
        try store.saveElasticCooldowns(["monitor": 900.5, "logs": 12])
        #expect(try Store(directory: dir).elasticCooldowns() == ["monitor": 900.5, "logs": 12])
        try store.saveElasticCooldowns(["logs": 13])
        #expect(try store.elasticCooldowns() == ["logs": 13])
    }
}
