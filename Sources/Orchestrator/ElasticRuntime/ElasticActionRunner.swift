import Planning

/// What elastic mode needs to carry planned actions out: ``PolicyActionRunner`` (deploy,
/// migrate, decommission), or in tests a fake that shows how ``ElasticService`` waits for,
/// or cancels, the actions under way.
protocol ElasticActionRunner: Sendable {
    /// Names the CVM of `action`; `taken` holds names already chosen in this evaluation or
    /// under way.
    func prepare(_ action: PlannedAction, taken: Set<String>, policy: PolicySet?) throws -> PreparedAction

    /// Carries `prepared` out; never throws (a failure is journaled and returned). Cancelled,
    /// it undoes what it did and returns.
    func perform(_ prepared: PreparedAction) async -> ActionOutcome
}

extension PolicyActionRunner: ElasticActionRunner {}
