/// What happened to one candidate host in one placement decision.
public enum CandidateVerdict: Sendable, Hashable {
    case rejected(PlacementRejection)
    case scored(ScoreBreakdown)
}

/// One candidate of a decision: the host (as an index into the explanation's host names, so
/// that thousands of decisions share one name table) and its verdict.
public struct CandidateAssessment: Sendable, Hashable {
    public var hostIndex: Int32
    public var verdict: CandidateVerdict

    public init(hostIndex: Int32, verdict: CandidateVerdict) {
        self.hostIndex = hostIndex
        self.verdict = verdict
    }

    public var score: ScoreBreakdown? {
        if case let .scored(score) = verdict { return score }
        return nil
    }

    public var rejection: PlacementRejection? {
        if case let .rejected(rejection) = verdict { return rejection }
        return nil
    }
}
