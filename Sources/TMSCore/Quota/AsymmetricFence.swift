import Atomics
import CTMSFence

/// The two sides of the quota's Dekker-style hand-offs between a core's owner and the rare
/// other threads that must see its uses exactly (a publish re-classifying the core, a waiter
/// served on it from another core).
///
/// The owner writes its count of uses with a plain store and then reads the core's word; the
/// other side changes the word (a compare-exchange) and then reads the count. Each side must
/// order its write before its read, or both can miss the other (x86 lets a load pass an
/// earlier store). With membarrier(2) the owner needs only a compiler barrier (no instruction)
/// and the other side pays: `heavy` makes every thread of the process run a full barrier
/// (about a microsecond). Where membarrier is missing, `light` is a real fence and `heavy`
/// nothing (the other side's compare-exchange is a full barrier already).
@usableFromInline
struct AsymmetricFence: Sendable {
    /// Whether membarrier's private expedited command is registered for this process.
    @usableFromInline let expedited: Bool

    init(expedited: Bool) { self.expedited = expedited }

    /// Registers the process once; every quota reads the outcome.
    static let shared = AsymmetricFence(expedited: ctms_membarrier_register() == 0)

    /// The owner's side: between its store of the count and its load of the word.
    @inlinable @inline(__always)
    func light() {
        if expedited {
            ctms_compiler_barrier()
        } else {
            atomicMemoryFence(ordering: .sequentiallyConsistent)
        }
    }

    /// The other side: between its change of the word and its read of the count.
    func heavy() {
        guard expedited else { return }
        // Registered above, so the command cannot be refused; a failure would leave the
        // owners' plain stores unordered, which must not go unnoticed.
        let result = ctms_membarrier()
        precondition(result == 0, "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after registration")
    }
}
