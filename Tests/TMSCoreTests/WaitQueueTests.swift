import Testing
@testable import TMSCore

@Suite struct WaitQueueTests {
    @Test func servesInArrivalOrder() {
        var queue = WaitQueue<Int>(capacity: 3, timeout: .seconds(5))
        #expect(queue.enqueue(1, now: .zero) == .queued(position: 1))
        #expect(queue.enqueue(2, now: .zero) == .queued(position: 2))
        #expect(queue.enqueue(3, now: .zero) == .queued(position: 3))
        #expect(queue.enqueue(4, now: .zero) == .full)
        #expect(queue.removeFirst() == 1)
        #expect(queue.enqueue(4, now: .zero) == .queued(position: 3))
        #expect(queue.elements == [2, 3, 4])
    }

    @Test func expiresAtTheDeadline() {
        var queue = WaitQueue<String>(capacity: 10, timeout: .seconds(2))
        _ = queue.enqueue("a", now: .seconds(0))
        _ = queue.enqueue("b", now: .seconds(1))
        _ = queue.enqueue("c", now: .milliseconds(1_500))
        #expect(queue.removeExpired(now: .milliseconds(1_999)).isEmpty)
        #expect(queue.removeExpired(now: .seconds(2)) == ["a"])
        #expect(queue.removeExpired(now: .seconds(10)) == ["b", "c"])
        #expect(queue.isEmpty)
    }

    @Test func removesAWithdrawnElement() {
        var queue = WaitQueue<Int>(capacity: 5, timeout: .seconds(1))
        for value in 1...4 { _ = queue.enqueue(value, now: .zero) }
        #expect(queue.remove(where: { $0 == 3 }) == 3)
        #expect(queue.remove(where: { $0 == 9 }) == nil)
        #expect(queue.elements == [1, 2, 4])
    }

    @Test func zeroCapacityNeverQueues() {
        var queue = WaitQueue<Int>(capacity: 0, timeout: .seconds(1))
        #expect(queue.enqueue(1, now: .zero) == .full)
    }

    @Test func staysCorrectAcrossManyCycles() {
        var queue = WaitQueue<Int>(capacity: 8, timeout: .seconds(1))
        var model: [Int] = []
        for value in 0..<2_000 {
            if value % 3 != 2, queue.enqueue(value, now: .zero) == .queued(position: model.count + 1) {
                model.append(value)
            } else if !model.isEmpty {
                #expect(queue.removeFirst() == model.removeFirst())
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first)
        }
    }
}
