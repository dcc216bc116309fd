import PropertyBased
import Testing
@testable import TMSCore

@Suite struct PoolSizingTests {
    @Test func limit100On7Cores() throws {
        // SPEC: 80 % of 100 is 80, not a multiple of 7; the largest multiple <= 80 is 77.
        let sizing = try PoolSizing(limit: 100, cores: 7)
        #expect(sizing.exclusivePool == 77)
        #expect(sizing.perCoreExclusive == 11)
        #expect(sizing.sharedPool == 23)
        #expect(sizing.batch == 2)   // floor(10 % of 23)
    }

    @Test func limit100On2Cores() throws {
        let sizing = try PoolSizing(limit: 100, cores: 2)
        #expect(sizing.exclusivePool == 80)
        #expect(sizing.perCoreExclusive == 40)
        #expect(sizing.sharedPool == 20)
        #expect(sizing.batch == 2)
    }

    @Test(arguments: [(10, 2), (20, 4)])
    func batchOfASharedPoolOf20(percent: Int, batch: Int) throws {
        // The patent's example: a shared pool of 20 lends batches of 2 at 10 %, of 4 at 20 %.
        // 100 on 1 core at 80 % leaves exactly 20 shared.
        let sizing = try PoolSizing(PoolConfig(limit: 100, cores: 1, batchPercent: Percentage(percent)!))
        #expect(sizing.sharedPool == 20)
        #expect(sizing.batch == batch)
    }

    @Test func batchIsAtLeastOne() throws {
        let sizing = try PoolSizing(limit: 12, cores: 1)   // S = 3, 10 % of 3 = 0.3
        #expect(sizing.sharedPool == 3)
        #expect(sizing.batch == 1)
        let empty = try PoolSizing(PoolConfig(limit: 10, cores: 2, exclusivePercent: .hundred))
        #expect(empty.sharedPool == 0)
        #expect(empty.batch == 1)
    }

    @Test func exclusivePerCoreBelowOneIsZero() throws {
        // 80 % of 5 is 4 < 7 cores: E / N < 1, so every core borrows every connection.
        let sizing = try PoolSizing(limit: 5, cores: 7)
        #expect(sizing.exclusivePool == 0)
        #expect(sizing.perCoreExclusive == 0)
        #expect(sizing.sharedPool == 5)
        #expect(sizing.batch == 1)
        #expect(sizing.t1 == 0)
    }

    @Test func thresholdsResolveAgainstTheirBases() throws {
        let defaults = try PoolSizing(limit: 100, cores: 7)
        #expect(defaults.t1 == 11)   // the exclusive number
        #expect(defaults.t2 == 0)
        let config = PoolConfig(limit: 100, cores: 7, t1: .percent(Percentage(80)!), t2: .percent(Percentage(10)!))
        let sizing = try PoolSizing(config)
        #expect(sizing.t1 == 8)      // 80 % of 11
        #expect(sizing.t2 == 2)      // 10 % of 23
        let absolute = try PoolSizing(PoolConfig(limit: 100, cores: 7, t1: .absolute(5), t2: .absolute(3)))
        #expect(absolute.t1 == 5)
        #expect(absolute.t2 == 3)
    }

    @Test func rejectsInvalidConfigurations() {
        #expect(throws: PoolConfigError.negativeLimit(-1)) { try PoolSizing(limit: -1, cores: 2) }
        #expect(throws: PoolConfigError.invalidCoreCount(0)) { try PoolSizing(limit: 10, cores: 0) }
        #expect(throws: PoolConfigError.negativeThreshold(name: "T1", value: -2)) {
            try PoolSizing(PoolConfig(limit: 10, cores: 1, t1: .absolute(-2)))
        }
        #expect(PoolConfigError.invalidCoreCount(0).description == "the core count must be 1 or more (got 0)")
    }

    @Test func zeroLimitHasNothingToLend() throws {
        let sizing = try PoolSizing(limit: 0, cores: 3)
        #expect(sizing.exclusivePool == 0 && sizing.sharedPool == 0 && sizing.batch == 1)
    }

    @Test func definitionHoldsForAnyConfiguration() async {
        await propertyCheck(
            input: Gen.int(in: 0...1_000_000), Gen.int(in: 1...128), Gen.int(in: 0...10_000), Gen.int(in: 0...10_000)
        ) { limit, cores, exclusiveBP, batchBP in
            let config = PoolConfig(limit: limit, cores: cores,
                                    exclusivePercent: Percentage(basisPoints: exclusiveBP)!,
                                    batchPercent: Percentage(basisPoints: batchBP)!)
            let sizing = try PoolSizing(config)
            let target = limit * exclusiveBP / 10_000   // no overflow in this range
            // E: a multiple of N, <= floor(p_e * L), and the largest such.
            #expect(sizing.exclusivePool % cores == 0)
            #expect(sizing.exclusivePool <= target)
            #expect(sizing.exclusivePool + cores > target)
            #expect(sizing.perCoreExclusive * cores == sizing.exclusivePool)
            #expect(sizing.exclusivePool + sizing.sharedPool == limit)
            #expect(sizing.batch == max(1, sizing.sharedPool * batchBP / 10_000))
            #expect(sizing.batch >= 1 && (sizing.sharedPool == 0 || sizing.batch <= sizing.sharedPool))
        }
    }
}
