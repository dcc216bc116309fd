/// Everything admission needs about one core, packed in one 64-bit word, on a cache line that
/// only that core (and, rarely, a publisher or a thread serving a waiter) writes.
///
/// Layout, from the low bits: capacity (27 bits) = exclusive number + held quota;
/// in-use (27 bits: the uses admitted by compare-exchange — the owner's fast path counts its
/// own in a separate plain counter, see `VServerQuota.attemptAdmit`); generation (8 low bits of
/// the configuration generation the numbers are expressed in); bit 62: frozen — set while a
/// publisher or a thread serving a waiter reads the owner's counter, when the owner takes the
/// compare-exchange path; bit 63: the debt flag — set while the vServer may be over its limit
/// after a decrease, when the core must not admit.
///
/// Because the generation is part of the word, a compare-exchange prepared against one
/// configuration fails if the publisher re-classified the core in between.
///
/// `headroom` keeps limits clear of the field's top, so that the counts of a core (word and
/// counter together) never reach what 27 bits can hold.
@usableFromInline
struct CoreWord: Equatable, CustomStringConvertible {
    @inlinable static var fieldBits: UInt64 { 27 }
    @inlinable static var fieldMask: UInt64 { (1 << fieldBits) - 1 }
    /// The largest in-use count or capacity a core can represent (134 217 727).
    @inlinable static var maxField: Int { Int(fieldMask) }
    @inlinable static var inUseShift: UInt64 { 27 }
    @inlinable static var generationShift: UInt64 { 54 }
    @inlinable static var generationMask: UInt64 { 0xFF }
    @inlinable static var debtBit: UInt64 { 1 << 63 }
    @inlinable static var frozenBit: UInt64 { 1 << 62 }
    /// One use, as added to the raw word.
    @inlinable static var inUseUnit: Int { 1 << 27 }
    /// Room above any capacity for optimistic increments in flight.
    @inlinable static var headroom: Int { 1 << 16 }

    @usableFromInline var bits: UInt64

    @inlinable init(bits: UInt64) { self.bits = bits }

    @inlinable init(raw: Int) { self.bits = UInt64(bitPattern: Int64(raw)) }

    init(debt: Bool, generation: Int, inUse: Int, capacity: Int) {
        precondition(inUse >= 0 && inUse <= Self.maxField, "in-use \(inUse) out of range")
        precondition(capacity >= 0 && capacity <= Self.maxField, "capacity \(capacity) out of range")
        bits = (debt ? Self.debtBit : 0)
            | (UInt64(truncatingIfNeeded: generation) & Self.generationMask) << Self.generationShift
            | UInt64(inUse) << Self.inUseShift
            | UInt64(capacity)
    }

    @inlinable var raw: Int { Int(Int64(bitPattern: bits)) }

    @inlinable var capacity: Int { Int(bits & Self.fieldMask) }
    @inlinable var inUse: Int { Int((bits >> Self.inUseShift) & Self.fieldMask) }
    /// The low 8 bits of the configuration generation.
    @inlinable var generation: Int { Int((bits >> Self.generationShift) & Self.generationMask) }
    @inlinable var debt: Bool { bits & Self.debtBit != 0 }
    @inlinable var frozen: Bool { bits & Self.frozenBit != 0 }

    /// The same word with other counts (flags and generation kept).
    func with(inUse: Int, capacity: Int) -> CoreWord {
        var word = CoreWord(debt: debt, generation: generation, inUse: inUse, capacity: capacity)
        word.bits |= bits & Self.frozenBit
        return word
    }

    func with(frozen: Bool) -> CoreWord {
        CoreWord(bits: frozen ? bits | Self.frozenBit : bits & ~Self.frozenBit)
    }

    func with(debt: Bool) -> CoreWord {
        CoreWord(bits: debt ? bits | Self.debtBit : bits & ~Self.debtBit)
    }

    @usableFromInline var description: String {
        "CoreWord(gen: \(generation), inUse: \(inUse), capacity: \(capacity)\(debt ? ", debt" : "")\(frozen ? ", frozen" : ""))"
    }
}
