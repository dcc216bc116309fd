@testable import Planning
@testable import Orchestrator
import Testing

@Suite("ElasticMeasurement")
struct ElasticMeasurementTests {
    @Test("TMS readings and heartbeats are summed per task and resource, for the policy's tasks only")
    func sums() {
        let observations = ElasticMeasurement.observations(
            tms: [TaskUsageReading(task: "a", values: [.cpuPercent: 100, .connections: 10]),
                  TaskUsageReading(task: "not-in-policy", values: [.cpuPercent: 1])],
            heartbeats: ["a": [.cpuPercent: 20, .memoryMiB: 64], "b": [.cpuPercent: 5]],
            tasks: ["b", "a", "c"])
        #expect(observations == [
            UsageObservation(task: "a", values: [.cpuPercent: 120, .connections: 10, .memoryMiB: 64]),
            UsageObservation(task: "b", values: [.cpuPercent: 5]),
        ])
    }
}
