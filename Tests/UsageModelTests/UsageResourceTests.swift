import Foundation
import Testing
import UsageModel

@Suite("UsageResource")
struct UsageResourceTests {
    @Test("raw values are the keys written in policies, usage files and /usage")
    func rawValues() {
        #expect(UsageResource.allCases.map(\.rawValue) == [
            "cpuPercent", "memoryMiB", "connections", "bytesPerSecond", "diskBytesPerSecond",
            "bytesInPerSecond", "bytesOutPerSecond", "connectionsPerSecond", "spillsPerSecond",
        ])
    }

    @Test("ordered as declared")
    func order() {
        #expect(UsageResource.allCases.sorted() == UsageResource.allCases)
        #expect(UsageResource.allCases.shuffled().sorted() == UsageResource.allCases)
    }

    @Test("encoded as its raw value")
    func coding() throws {
        let data = try JSONEncoder().encode([UsageResource.spillsPerSecond, .memoryMiB])
        #expect(String(decoding: data, as: UTF8.self) == #"["spillsPerSecond","memoryMiB"]"#)
        #expect(try JSONDecoder().decode([UsageResource].self, from: data) == [.spillsPerSecond, .memoryMiB])
    }
}
