import PropertyBased
import Testing
@testable import TMSCore

@Suite struct SpilloverRuleTests {
    @Test func needsBothConditions() {
        #expect(SpilloverRule.shouldSpill(inUse: 11, sharedAvailable: 0, t1: 11, t2: 0))
        #expect(!SpilloverRule.shouldSpill(inUse: 10, sharedAvailable: 0, t1: 11, t2: 0))
        #expect(!SpilloverRule.shouldSpill(inUse: 11, sharedAvailable: 1, t1: 11, t2: 0))
        #expect(SpilloverRule.shouldSpill(inUse: 0, sharedAvailable: -3, t1: 0, t2: 0))
    }

    @Test func unusedHeldQuotaIsNeverSpilled() {
        #expect(!SpilloverRule.shouldSpill(inUse: 41, unusedHeld: 1, sharedAvailable: 0, t1: 40, t2: 0))
        #expect(SpilloverRule.shouldSpill(inUse: 42, unusedHeld: 0, sharedAvailable: 0, t1: 40, t2: 0))
        #expect(!SpilloverRule.shouldSpill(inUse: 39, unusedHeld: 0, sharedAvailable: 0, t1: 40, t2: 0))
        #expect(!SpilloverRule.shouldSpill(inUse: 42, unusedHeld: 0, sharedAvailable: 1, t1: 40, t2: 0))
    }

    @Test func isMonotonic() async {
        let small = Gen.int(in: -50...50)
        await propertyCheck(input: small, small, small, small) { inUse, available, t1, t2 in
            if SpilloverRule.shouldSpill(inUse: inUse, sharedAvailable: available, t1: t1, t2: t2) {
                // More use or less availability never brings a request back to the primary.
                #expect(SpilloverRule.shouldSpill(inUse: inUse + 1, sharedAvailable: available, t1: t1, t2: t2))
                #expect(SpilloverRule.shouldSpill(inUse: inUse, sharedAvailable: available - 1, t1: t1, t2: t2))
            } else {
                #expect(!SpilloverRule.shouldSpill(inUse: inUse - 1, sharedAvailable: available, t1: t1, t2: t2))
                #expect(!SpilloverRule.shouldSpill(inUse: inUse, sharedAvailable: available + 1, t1: t1, t2: t2))
            }
        }
    }
}
