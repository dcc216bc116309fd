/// Policy files that do not validate: every problem found, sorted by file, line and column.
///
/// Contract: `diagnostics` is never empty.
public struct PolicyValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [PolicyDiagnostic]

    public init(diagnostics: [PolicyDiagnostic]) {
        precondition(!diagnostics.isEmpty, "a validation error needs at least one diagnostic")
        self.diagnostics = diagnostics.sorted()
    }

    /// One diagnostic per line.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
