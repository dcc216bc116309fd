import PropertyBased
import Testing
@testable import TMSCore

@Suite struct ReclassificationTests {
    @Test func exclusiveRisesFrom9To15With12InUse() {
        // SPEC: the 3 borrowed become exclusive and the held batches go back to S.
        let change = Reclassification(inUse: 12, held: 4, newExclusive: 15)
        #expect(change.exclusiveInUse == 12)
        #expect(change.borrowedInUse == 0)
        #expect(change.held == 0)
        #expect(change.returnedToShared == 4)
    }

    @Test func exclusiveFallsFrom15To9With12InUse() {
        // SPEC: 3 in use now count as borrowed.
        let change = Reclassification(inUse: 12, held: 0, newExclusive: 9)
        #expect(change.exclusiveInUse == 9)
        #expect(change.borrowedInUse == 3)
        #expect(change.held == 3)
        #expect(change.returnedToShared == -3)
    }

    @Test func conservesQuota() async {
        await propertyCheck(input: Gen.int(in: 0...500), Gen.int(in: 0...500), Gen.int(in: 0...500)) { inUse, held, exclusive in
            let change = Reclassification(inUse: inUse, held: held, newExclusive: exclusive)
            #expect(change.exclusiveInUse + change.borrowedInUse == inUse)
            #expect(change.exclusiveInUse <= exclusive)
            #expect(change.held + change.returnedToShared == held)
            #expect(exclusive + change.held >= inUse)   // existing uses are never revoked
            #expect(change.held == change.borrowedInUse) // nothing surplus is kept
        }
    }
}
