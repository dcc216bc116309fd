import Testing
@testable import TrafficManager

@Suite struct CPUAttributionTests {
    @Test("CPU of each loop is split by handler time; idle loops charge nobody")
    func attribution() {
        let cpu = CPUAttribution.attribute(
            threadNanos: [0: 1000, 1: 600, -1: 50],
            busy: [.init(task: "a", loop: 0, nanos: 300), .init(task: "b", loop: 0, nanos: 100),
                   .init(task: "a", loop: 1, nanos: 10), .init(task: "m", loop: -1, nanos: 0)])
        #expect(abs(cpu["a"]! - 1350) < 1e-9)
        #expect(abs(cpu["b"]! - 250) < 1e-9)
        #expect(cpu["m"] == 0)
    }
}
