import PropertyBased
import Testing
@testable import TMSCore

@Suite struct CoreWordTests {
    @Test func fieldsRoundTrip() async {
        let field = Gen.int(in: 0...CoreWord.maxField)
        await propertyCheck(input: Gen.bool(), Gen.int(in: 0...10_000), field, field) { debt, generation, tally, capacity in
            let word = CoreWord(debt: debt, generation: generation, tally: tally, capacity: capacity)
            #expect(word.debt == debt)
            #expect(word.generation == generation & 0xFF)
            #expect(word.tally == tally)
            #expect(word.capacity == capacity)
            #expect(CoreWord(raw: word.raw) == word)
            #expect(word.with(debt: !debt).debt == !debt)
            #expect(word.with(debt: !debt).with(debt: debt) == word)
            let moved = word.with(tallyDelta: 1, capacity: tally)
            #expect(moved.tally == CoreWord.modular(tally + 1) && moved.capacity == tally)
            #expect(moved.generation == word.generation && moved.debt == debt)
        }
    }

    /// The fast paths add and subtract `inUseUnit` on the raw word: the tally wraps modulo
    /// 2^27 by falling off the top, never touching capacity, generation or the debt flag, and
    /// the uses in force (tally + own count, modulo 2^27) stay exact across the wrap.
    @Test func tallyWrapsWithoutTouchingTheOtherFields() async {
        await propertyCheck(
            input: Gen.bool(), Gen.int(in: 0...255), Gen.int(in: 0...CoreWord.maxField),
            Gen.int(in: 0...CoreWord.maxField), Gen.int(in: 0...1_000), Gen.int(in: 0...1_000)
        ) { debt, generation, capacity, start, admits, releases in
            let word = CoreWord(debt: debt, generation: generation, tally: start, capacity: capacity)
            let raw = word.raw &+ admits &* CoreWord.inUseUnit &- min(admits, releases) &* CoreWord.inUseUnit
            let after = CoreWord(raw: raw)
            #expect(after.capacity == capacity && after.generation == generation && after.debt == debt)
            // `start` uses were in force with an own count of 0; the releases the core then
            // made on its plain fast path are counted apart from the word.
            let plainReleases = releases - min(admits, releases)
            let expected = start + admits - releases
            if expected >= 0 {
                #expect(after.inUse(own: CoreWord.modular(-plainReleases)) == expected)
            }
        }
    }
}
