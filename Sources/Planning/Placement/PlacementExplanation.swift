/// Why a placement went where it went: every candidate host with the filter that rejected it
/// (and the numbers) or its score term by term, plus the policy commit the decision used.
///
/// Contract: `assessments` has exactly one entry per host of the inventory the decision was
/// made on, in host-name order.
public struct PlacementExplanation: Sendable, Hashable {
    public var task: String
    public var tier: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var policyCommit: String
    public var weights: PlacementWeights
    /// Every host name of the inventory, by index (shared with it, not copied).
    public var hostNames: [String]
    public var assessments: [CandidateAssessment]
    /// Index of the chosen host, if any candidate passed every filter.
    public var chosenIndex: Int32?

    public init(
        task: String, tier: String, vcpus: Int, memoryMiB: Int, policyCommit: String, weights: PlacementWeights,
        hostNames: [String], assessments: [CandidateAssessment], chosenIndex: Int32?
    ) {
        self.task = task
        self.tier = tier
        self.vcpus = vcpus
        self.memoryMiB = memoryMiB
        self.policyCommit = policyCommit
        self.weights = weights
        self.hostNames = hostNames
        self.assessments = assessments
        self.chosenIndex = chosenIndex
    }

    public var chosenHost: String? {
        chosenIndex.map { hostNames[Int($0)] }
    }

    public func host(of assessment: CandidateAssessment) -> String {
        hostNames[Int(assessment.hostIndex)]
    }

    /// Every candidate by name with its verdict, in host-name order.
    public var candidates: [(host: String, verdict: CandidateVerdict)] {
        assessments.map { (hostNames[Int($0.hostIndex)], $0.verdict) }
    }

    /// The verdict for `host`, if it was a candidate.
    public func verdict(for host: String) -> CandidateVerdict? {
        assessments.first { hostNames[Int($0.hostIndex)] == host }?.verdict
    }
}

/// The outcome of one placement: the chosen host, or none, and why.
public struct PlacementDecision: Sendable, Hashable {
    public var explanation: PlacementExplanation

    public init(explanation: PlacementExplanation) {
        self.explanation = explanation
    }

    /// The chosen host; nil when every candidate was rejected.
    public var host: String? { explanation.chosenHost }

    public var score: ScoreBreakdown? {
        explanation.chosenIndex.flatMap { explanation.assessments[Int($0)].score }
    }
}
