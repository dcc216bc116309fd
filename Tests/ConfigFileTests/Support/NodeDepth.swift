import Yams

extension Node {
    /// How many collections are nested in one another (0 for a scalar), walked without
    /// recursion.
    var depth: Int {
        var deepest = 0
        var stack: [(Node, Int)] = [(self, 0)]
        while let (node, level) = stack.popLast() {
            switch node {
            case .scalar:
                deepest = max(deepest, level)
            case let .sequence(sequence):
                deepest = max(deepest, level + 1)
                stack.append(contentsOf: sequence.map { ($0, level + 1) })
            case let .mapping(mapping):
                deepest = max(deepest, level + 1)
                for (key, value) in mapping {
                    stack.append((key, level + 1))
                    stack.append((value, level + 1))
                }
            }
        }
        return deepest
    }
}
