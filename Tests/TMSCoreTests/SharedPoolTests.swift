import Atomics
import Testing
@testable import TMSCore

@Suite struct SharedPoolTests {
    @Test func borrowsOnlyWholeAmounts() {
        let pool = SharedPool(available: 5)
        #expect(pool.tryBorrow(2))
        #expect(pool.tryBorrow(2))
        #expect(!pool.tryBorrow(2))   // 1 left: less than a batch
        #expect(pool.available == 1)
        pool.giveBack(2)
        #expect(pool.available == 3)
        #expect(pool.tryBorrow(3))
        #expect(pool.available == 0)
    }

    @Test func neverLendsFromANegativePool() {
        let pool = SharedPool(available: 2)
        pool.adjust(by: -5)
        #expect(pool.available == -3)
        #expect(!pool.tryBorrow(1))
        pool.giveBack(3)
        #expect(pool.available == 0)
        #expect(!pool.tryBorrow(1))
        pool.giveBack(1)
        #expect(pool.tryBorrow(1))
    }

    @Test func concurrentBorrowersNeverOverdraw() {
        let initial = 64
        let pool = SharedPool(available: initial)
        let overdrawn = ManagedAtomic<Int>(0)
        let held = ManagedAtomic<Int>(0)
        let rounds = runningUnderThreadSanitizer ? 20_000 : 200_000
        runThreads(4) { thread in
            var mine = 0
            var random = SplitMix(seed: UInt64(thread))
            for _ in 0..<rounds {
                let amount = Int.random(in: 1...4, using: &random)
                if mine > 0 && Bool.random(using: &random) {
                    // Uncount before giving back, so `held` never exceeds what is really
                    // borrowed (counting after would let another thread's borrow of the
                    // returned units be counted first: a false overdraw).
                    held.wrappingDecrement(by: mine, ordering: .relaxed)
                    pool.giveBack(mine)
                    mine = 0
                } else if pool.tryBorrow(amount) {
                    mine += amount
                    if held.wrappingIncrementThenLoad(by: amount, ordering: .relaxed) > initial {
                        overdrawn.wrappingIncrement(ordering: .relaxed)
                    }
                }
            }
            if mine > 0 {
                held.wrappingDecrement(by: mine, ordering: .relaxed)
                pool.giveBack(mine)
            }
        }
        #expect(overdrawn.load(ordering: .relaxed) == 0)
        #expect(pool.available == initial)
        #expect(held.load(ordering: .relaxed) == 0)
    }
}
