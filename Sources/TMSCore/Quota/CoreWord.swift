/// Everything admission needs about one core, packed in one 64-bit word so that every
/// change to it is a single atomic operation on a cache line that only that core (and,
/// rarely, the publisher of a new limit or a thread serving a waiter) writes.
///
/// Layout, from the low bits: capacity (27 bits) = exclusive number + held quota;
/// generation (8 low bits of the configuration generation the numbers are expressed in);
/// bit 35: the debt flag — set while the vServer may be over its limit after a decrease,
/// when the core must not admit; bits 37-63: the tally.
///
/// The tally counts the admissions minus the releases made through the word, modulo 2^27.
/// The core's own thread admits and releases on its fast path with plain stores to the
/// core's own count instead (see `VServerQuota`), so the uses in force are `tally + own`
/// (modulo 2^27, `inUse(own:)`). The tally is the top field so that it wraps by falling
/// off the word: it never carries into the other fields.
///
/// Because the generation is part of the word, a compare-exchange prepared against one
/// configuration fails if the publisher re-classified the core in between.
///
/// Admissions through the word are compare-exchanges, releases fetch-adds of -`inUseUnit`:
/// the tally never counts a use that does not exist. `headroom` keeps the largest limit
/// below 2^27 with room to spare, so a release without a use (-1 modulo 2^27) is told apart
/// from any real count.
struct CoreWord: Equatable, CustomStringConvertible {
    static let fieldBits: UInt64 = 27
    static let fieldMask: UInt64 = (1 << fieldBits) - 1
    /// The largest in-use count or capacity a core can represent (134 217 727).
    static let maxField = Int(fieldMask)
    static let generationShift: UInt64 = 27
    static let generationMask: UInt64 = 0xFF
    static let debtBit: UInt64 = 1 << 35
    static let tallyShift: UInt64 = 37
    /// One use, as added to the raw word.
    static let inUseUnit = 1 << 37
    /// Room between the largest limit and 2^27.
    static let headroom = 1 << 16

    var bits: UInt64

    init(bits: UInt64) { self.bits = bits }

    init(raw: Int) { self.bits = UInt64(bitPattern: Int64(raw)) }

    init(debt: Bool, generation: Int, tally: Int, capacity: Int) {
        precondition(tally >= 0 && tally <= Self.maxField, "tally \(tally) out of range")
        precondition(capacity >= 0 && capacity <= Self.maxField, "capacity \(capacity) out of range")
        bits = (debt ? Self.debtBit : 0)
            | (UInt64(truncatingIfNeeded: generation) & Self.generationMask) << Self.generationShift
            | UInt64(tally) << Self.tallyShift
            | UInt64(capacity)
    }

    var raw: Int { Int(Int64(bitPattern: bits)) }

    var capacity: Int { Int(bits & Self.fieldMask) }
    /// Admissions minus releases made through the word, modulo 2^27.
    var tally: Int { Int(bits >> Self.tallyShift) }
    /// The low 8 bits of the configuration generation.
    var generation: Int { Int((bits >> Self.generationShift) & Self.generationMask) }
    var debt: Bool { bits & Self.debtBit != 0 }

    /// The uses in force, given the core's own count (admissions minus releases made on the
    /// core's plain fast path, modulo 2^27).
    @inline(__always)
    func inUse(own: Int) -> Int { Self.modular(tally &+ own) }

    /// `value` modulo 2^27, in `0...maxField`.
    @inline(__always)
    static func modular(_ value: Int) -> Int { value & maxField }

    /// The same word with the tally moved by `delta` (modulo 2^27) and a new capacity.
    func with(tallyDelta delta: Int, capacity: Int) -> CoreWord {
        CoreWord(debt: debt, generation: generation, tally: Self.modular(tally &+ delta), capacity: capacity)
    }

    func with(debt: Bool) -> CoreWord {
        CoreWord(bits: debt ? bits | Self.debtBit : bits & ~Self.debtBit)
    }

    var description: String {
        "CoreWord(gen: \(generation), tally: \(tally), capacity: \(capacity)\(debt ? ", debt" : ""))"
    }
}
