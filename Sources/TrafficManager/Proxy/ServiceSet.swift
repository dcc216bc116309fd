/// A set of service indexes (0..<64) in one word: which services a connection already tried.
public struct ServiceSet: Sendable, Hashable {
    public private(set) var bits: UInt64 = 0

    public init() {}

    public func contains(_ index: Int) -> Bool { bits & (1 << UInt64(index)) != 0 }
    public mutating func insert(_ index: Int) { bits |= 1 << UInt64(index) }
    public var count: Int { bits.nonzeroBitCount }
}
