import Testing
@testable import TrafficManager

@Suite struct RoutePlannerTests {
    @Test("the first vServer that does not spill and admits takes the connection")
    func firstAdmitting() {
        var admitted: [Int] = []
        let plan = RoutePlanner.plan(count: 3, spills: { $0 == 0 }, admit: { admitted.append($0); return .admitted })
        #expect(plan == .admitted(index: 1, position: 1))
        #expect(admitted == [1], "a spilling vServer is not asked to admit")
    }

    @Test("a vServer that refuses is passed over like one that spills; all full is the end of the chain")
    func refusedPassesOver() {
        #expect(RoutePlanner.plan(count: 3, spills: { _ in false }, admit: { $0 < 2 ? .refused : .admitted })
                == .admitted(index: 2, position: 2))
        #expect(RoutePlanner.plan(count: 2, spills: { _ in true }, admit: { _ in .refused }) == .endOfChain)
        #expect(RoutePlanner.plan(count: 2, spills: { _ in false }, admit: { _ in .refused }) == .endOfChain)
    }

    @Test("the last vServer of the walk has nowhere to spill: only its quota decides")
    func lastIsAskedToAdmit() {
        var asked: [Int] = []
        #expect(RoutePlanner.plan(count: 2, spills: { asked.append($0); return true }, admit: { _ in .admitted })
                == .admitted(index: 1, position: 1))
        #expect(asked == [0])
        #expect(RoutePlanner.plan(count: 1, spills: { _ in true }, admit: { _ in .wouldQueue }) == .queue(index: 0, position: 0))
    }

    @Test("a vServer that queues stops the walk; after a timeout the walk resumes behind it")
    func queueStops() {
        #expect(RoutePlanner.plan(count: 3, spills: { _ in false }, admit: { $0 == 0 ? .wouldQueue : .admitted })
                == .queue(index: 0, position: 0))
        #expect(RoutePlanner.plan(count: 3, from: 1, spills: { _ in false }, admit: { _ in .admitted })
                == .admitted(index: 1, position: 1))
    }

    @Test("a pinned client starts at its backup and wraps round to the primary when the rest is full")
    func pinnedWraps() {
        var asked: [Int] = []
        let plan = RoutePlanner.plan(count: 3, start: 1, spills: { asked.append($0); return $0 != 0 },
                                     admit: { $0 == 0 ? .admitted : .refused })
        #expect(asked == [1, 2])
        #expect(plan == .admitted(index: 0, position: 2))
    }
}
