/// Everything admission needs about one core, packed in one 64-bit word so that an
/// admission or a release is a single compare-exchange on a cache line that only that core
/// (and, rarely, the publisher of a new limit) writes.
///
/// Layout, from the low bits: capacity (27 bits) = exclusive number + held quota;
/// in-use (27 bits); generation (8 low bits of the configuration generation the numbers
/// are expressed in); bit 63: the debt flag — set while the vServer may be over its limit
/// after a decrease, when the core must not admit.
///
/// Because the generation is part of the word, a compare-exchange prepared against one
/// configuration fails if the publisher re-classified the core in between.
///
/// The fast paths add or subtract `inUseUnit` with one atomic fetch-add: an admission adds
/// first and checks the old word (undoing the add when the core had no room), so in-use may
/// briefly exceed capacity by the number of admissions in flight on that core. `headroom`
/// keeps that from ever carrying into the generation bits.
struct CoreWord: Equatable, CustomStringConvertible {
    static let fieldBits: UInt64 = 27
    static let fieldMask: UInt64 = (1 << fieldBits) - 1
    /// The largest in-use count or capacity a core can represent (134 217 727).
    static let maxField = Int(fieldMask)
    static let inUseShift: UInt64 = 27
    static let generationShift: UInt64 = 54
    static let generationMask: UInt64 = 0xFF
    static let debtBit: UInt64 = 1 << 63
    /// One use, as added to the raw word.
    static let inUseUnit = 1 << 27
    /// Room above any capacity for optimistic increments in flight.
    static let headroom = 1 << 16

    var bits: UInt64

    init(bits: UInt64) { self.bits = bits }

    init(raw: Int) { self.bits = UInt64(bitPattern: Int64(raw)) }

    init(debt: Bool, generation: Int, inUse: Int, capacity: Int) {
        precondition(inUse >= 0 && inUse <= Self.maxField, "in-use \(inUse) out of range")
        precondition(capacity >= 0 && capacity <= Self.maxField, "capacity \(capacity) out of range")
        bits = (debt ? Self.debtBit : 0)
            | (UInt64(truncatingIfNeeded: generation) & Self.generationMask) << Self.generationShift
            | UInt64(inUse) << Self.inUseShift
            | UInt64(capacity)
    }

    var raw: Int { Int(Int64(bitPattern: bits)) }

    var capacity: Int { Int(bits & Self.fieldMask) }
    var inUse: Int { Int((bits >> Self.inUseShift) & Self.fieldMask) }
    /// The low 8 bits of the configuration generation.
    var generation: Int { Int((bits >> Self.generationShift) & Self.generationMask) }
    var debt: Bool { bits & Self.debtBit != 0 }

    func with(inUse: Int, capacity: Int) -> CoreWord {
        CoreWord(debt: debt, generation: generation, inUse: inUse, capacity: capacity)
    }

    func with(debt: Bool) -> CoreWord {
        CoreWord(bits: debt ? bits | Self.debtBit : bits & ~Self.debtBit)
    }

    var description: String {
        "CoreWord(gen: \(generation), inUse: \(inUse), capacity: \(capacity)\(debt ? ", debt" : ""))"
    }
}
