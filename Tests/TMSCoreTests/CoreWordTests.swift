import PropertyBased
import Testing
@testable import TMSCore

@Suite struct CoreWordTests {
    @Test func fieldsRoundTrip() async {
        let field = Gen.int(in: 0...CoreWord.maxField)
        await propertyCheck(input: Gen.bool(), Gen.int(in: 0...10_000), field, field) { debt, generation, inUse, capacity in
            let word = CoreWord(debt: debt, generation: generation, inUse: inUse, capacity: capacity)
            #expect(word.debt == debt)
            #expect(word.generation == generation & 0xFF)
            #expect(word.inUse == inUse)
            #expect(word.capacity == capacity)
            #expect(CoreWord(raw: word.raw) == word)
            #expect(word.with(debt: !debt).debt == !debt)
            #expect(word.with(debt: !debt).with(debt: debt) == word)
            let moved = word.with(inUse: capacity, capacity: inUse)
            #expect(moved.inUse == capacity && moved.capacity == inUse)
            #expect(moved.generation == word.generation && moved.debt == debt)
        }
    }
}
