/// The re-classification a core applies to what it holds when the per-core exclusive
/// number changes (SPEC.md §1.1, dynamic limit). Pure arithmetic.
///
/// Uses up to the new exclusive number are exclusive; the rest count as borrowed. The core
/// keeps exactly as much borrowed quota as its borrowed uses need: when the exclusive number
/// rises, held batches it no longer needs go back to the shared pool; when it falls, the uses
/// above it are now borrowed and are taken from the shared pool (which may go below zero —
/// existing uses are never revoked).
public struct Reclassification: Sendable, Hashable {
    /// Uses now within the exclusive number.
    public let exclusiveInUse: Int
    /// Uses now counted as borrowed.
    public let borrowedInUse: Int
    /// The quota the core holds from the shared pool afterwards.
    public let held: Int
    /// Quota moved back to the shared pool (negative: taken from it).
    public let returnedToShared: Int

    public init(inUse: Int, held: Int, newExclusive: Int) {
        precondition(inUse >= 0 && held >= 0 && newExclusive >= 0)
        let borrowed = max(0, inUse - newExclusive)
        self.exclusiveInUse = inUse - borrowed
        self.borrowedInUse = borrowed
        self.held = borrowed
        self.returnedToShared = held - borrowed
    }
}
