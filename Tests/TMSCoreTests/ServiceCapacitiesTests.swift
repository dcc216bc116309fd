import Testing
@testable import TMSCore

@Suite struct ServiceCapacitiesTests {
    @Test func limitIsTheSumOfTheServicesUp() throws {
        var services = try ServiceCapacities([
            .init(name: "s1", capacity: 50), .init(name: "s2", capacity: 30), .init(name: "s3", capacity: 20, isUp: false),
        ])
        #expect(services.limit == 80)
        #expect(try services.setUp("s1", false))
        #expect(services.limit == 30)
        #expect(try !services.setUp("s1", false))   // no change
        #expect(try services.setUp("s3", true))
        #expect(services.limit == 50)
    }

    @Test func rejectsBadServiceLists() {
        #expect(throws: ServiceCapacitiesError.duplicateService("a")) {
            try ServiceCapacities([.init(name: "a", capacity: 1), .init(name: "a", capacity: 2)])
        }
        #expect(throws: ServiceCapacitiesError.negativeCapacity("a", -1)) {
            try ServiceCapacities([.init(name: "a", capacity: -1)])
        }
        var services = try! ServiceCapacities([])
        #expect(services.limit == 0)
        #expect(throws: ServiceCapacitiesError.unknownService("x")) { try services.setUp("x", true) }
    }
}
