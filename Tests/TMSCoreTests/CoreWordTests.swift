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
            // The frozen flag is its own bit: set and cleared without touching the rest, and
            // kept when the counts change.
            let frozen = word.with(frozen: true)
            #expect(frozen.frozen && !word.frozen)
            #expect(frozen.debt == debt && frozen.generation == word.generation)
            #expect(frozen.inUse == inUse && frozen.capacity == capacity)
            #expect(frozen.with(frozen: false) == word)
            #expect(frozen.with(inUse: capacity, capacity: inUse).frozen)
            #expect(frozen.with(debt: !debt).frozen)
        }
    }

    /// The inlined fast paths spell slots out instead of reading raw values: they must agree.
    @Test func spelledOutSlotsMatchTheRawValues() {
        for counter in CoreCounter.allCases { #expect(counter.slot == counter.rawValue, "\(counter)") }
        for field in [MailboxField.generation, .exclusive, .batch, .t1, .t2, .sharedPool, .limit] {
            #expect(field.offset == field.rawValue, "\(field)")
        }
    }
}
