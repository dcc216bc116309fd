import Atomics

/// A block of atomic `Int`s laid out in rows of 512 bytes, one row per owner (a core, the
/// shared pool, ...), so that two cores never write to the same cache line (64 bytes) nor
/// to adjacent lines that the hardware prefetches in pairs.
///
/// `@unchecked Sendable`: the memory is allocated once in `init`, never reallocated and
/// freed in `deinit`; every read and write of it goes through `UnsafeAtomic`, so concurrent
/// use from any number of threads is free of data races.
@usableFromInline
final class AtomicSlab: @unchecked Sendable {
    @inlinable static var slotsPerRow: Int { 64 }

    let rows: Int
    private let base: UnsafeMutablePointer<Int.AtomicRepresentation>

    init(rows: Int) {
        precondition(rows >= 1)
        self.rows = rows
        let count = rows * Self.slotsPerRow
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: count * MemoryLayout<Int.AtomicRepresentation>.stride, alignment: 256)
        base = raw.bindMemory(to: Int.AtomicRepresentation.self, capacity: count)
        base.initialize(repeating: Int.AtomicRepresentation(0), count: count)
    }

    deinit {
        base.deinitialize(count: rows * Self.slotsPerRow)
        UnsafeMutableRawPointer(base).deallocate()
    }

    /// The atomic in `slot` of `row`. Valid as long as the slab is alive.
    @inline(__always)
    func atomic(row: Int, slot: Int) -> UnsafeAtomic<Int> {
        cells.atomic(row: row, slot: slot)
    }

    /// A view of the memory for owners that keep the slab alive themselves: stored inline,
    /// it saves the owner one dependent load per atomic access.
    var cells: AtomicCells { AtomicCells(base: base) }
}

/// The base address of an `AtomicSlab`, valid while the slab lives.
///
/// `@unchecked Sendable`: it is only an address; every access to the memory behind it goes
/// through `UnsafeAtomic`, and its holders keep the slab alive for as long as they hold it.
@usableFromInline
struct AtomicCells: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Int.AtomicRepresentation>

    init(base: UnsafeMutablePointer<Int.AtomicRepresentation>) { self.base = base }

    @inlinable @inline(__always)
    func atomic(row: Int, slot: Int) -> UnsafeAtomic<Int> {
        UnsafeAtomic(at: base + (row &* AtomicSlab.slotsPerRow &+ slot))
    }
}
