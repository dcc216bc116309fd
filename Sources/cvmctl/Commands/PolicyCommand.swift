import Planning
import ArgumentParser
import Foundation
import Orchestrator

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Validate, plan and apply the policies of a git commit.",
        discussion: """
        Policies are the *.yaml files of policies/ in a git repository, read at a commit with \
        git (never from the working tree). A commit that fails validation is refused and the \
        commit in force (see `cvmctl policy show`) stays.
        """,
        subcommands: [Validate.self, Plan.self, Apply.self, Show.self])

    /// Where the policies are read from. Defaults: the current directory's repository, HEAD.
    struct Source: ParsableArguments {
        @Option(help: ArgumentHelp("Git repository holding policies/ (default: the settings file's policyRepo, else the current directory's).", valueName: "dir"))
        var repo: String?

        @Option(help: ArgumentHelp("Commit, branch or tag to read.", valueName: "ref"))
        var ref: String = "HEAD"

        var repository: PolicyRepository {
            PolicyRepository(directory: repo ?? SettingsFile.loaded.policyRepo ?? FileManager.default.currentDirectoryPath)
        }

        func validate() throws {
            if ref.isEmpty || ref.hasPrefix("-") { throw ValidationError("--ref must name a commit, branch or tag") }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a commit's policies against the schema, the image catalog and the host registry.",
            discussion: "Prints every problem as file:line:column: error: key: message and exits 1 when there is any.")

        @OptionGroup var global: GlobalOptions
        @OptionGroup var source: Source

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let policySource = try orchestrator.policySource(source.repository)
                let ref = source.ref
                let candidate = try policySource.candidate(at: ref)
                switch candidate.outcome {
                case let .success(policy):
                    if global.json {
                        try JSONOutput.print(ValidationOutput(commit: candidate.commit, ref: ref, valid: true, diagnostics: []))
                    } else {
                        print("policy commit \(candidate.commit.prefix(12)) (\(ref)) is valid: \(policy.tiers.count) tiers, \(policy.tasks.count) tasks, \(policy.clouds.count) clouds")
                    }
                case let .failure(error):
                    if global.json {
                        try JSONOutput.print(ValidationOutput(commit: candidate.commit, ref: ref, valid: false,
                                                              diagnostics: error.diagnostics.map(DiagnosticOutput.init)))
                    } else {
                        for diagnostic in error.diagnostics { print(diagnostic) }
                    }
                    let count = error.diagnostics.count
                    throw OrchestratorError.invalidArgument(
                        "policy commit \(candidate.commit.prefix(12)) (\(ref)) has \(count) error\(count == 1 ? "" : "s"); it would be refused")
                }
            }
        }
    }

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what applying a commit's policies would change, and why.",
            discussion: """
            Compares what the policies want with what runs: deploy X on host H, migrate Y to H2, \
            decommission Z, each with its reason. Without --usage-file, tasks keep their CVM count \
            within their minCVMs/maxCVMs; with it, thresholds apply to that usage. Changes nothing.
            """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var source: Source

        @Option(help: ArgumentHelp("TMS task usage as JSON lines (see `cvmctl elastic run --help`).", valueName: "file"))
        var usageFile: String?

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let revision = try await orchestrator.policyRevision(source.repository, ref: source.ref, refusalJournaled: false)
                let observations = try await orchestrator.measureUsage(
                    for: revision.policy, sources: usageFile.map { [UsageFileSource(path: $0)] } ?? [])
                let plan = try orchestrator.policyPlan(revision, observations: observations)
                if global.json {
                    try JSONOutput.print(PlanOutput(plan))
                } else {
                    print(plan.description)
                }
            }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a commit's policies the ones in force and carry out its plan.",
            discussion: """
            Validates the commit (an invalid one is refused and journaled; the commit in force \
            stays), records it as in force, then deploys, migrates and decommissions as \
            `cvmctl policy plan` shows, one action after the other. Every action is journaled \
            with the commit (`cvmctl events`); deployed CVMs carry it. Ctrl-C stops after \
            undoing the action under way.
            """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var source: Source

        @Option(help: ArgumentHelp("TMS task usage as JSON lines (see `cvmctl elastic run --help`).", valueName: "file"))
        var usageFile: String?

        func run() async throws {
            try await reportingErrors {
                let orchestrator = try global.orchestrator()
                let repository = source.repository
                let revision = try await orchestrator.policyRevision(repository, ref: source.ref, refusalJournaled: true)
                let observations = try await orchestrator.measureUsage(
                    for: revision.policy, sources: usageFile.map { [UsageFileSource(path: $0)] } ?? [])
                let plan = try orchestrator.policyPlan(revision, observations: observations)
                let root = try repository.root()
                let global = self.global
                let outcomes = try await cancellableOnSignal {
                    try await orchestrator.applyPolicy(revision, plan: plan, repositoryRoot: root) { global.progress($0) }
                }
                if global.json {
                    try JSONOutput.print(ApplyOutput(commit: revision.commit, outcomes: outcomes.map(OutcomeOutput.init)))
                } else {
                    print("policy commit \(revision.shortCommit) (\(revision.ref)) is in force")
                    if outcomes.isEmpty { print("nothing to change") }
                    for outcome in outcomes { print("  \(outcome.succeeded ? "done" : "FAILED"): \(outcome.summary)") }
                }
                let failed = outcomes.count { !$0.succeeded }
                if failed > 0 {
                    throw OrchestratorError.invalidArgument("\(failed) of \(outcomes.count) actions failed; see `cvmctl events` for why")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the policy commit in force.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let applied = try global.orchestrator().store.appliedPolicy()
                if global.json {
                    try JSONOutput.print(applied)
                } else if let applied {
                    let formatter = ISO8601DateFormatter()
                    print("policy commit \(applied.commit) (\(applied.ref)) in \(applied.repository), in force since \(formatter.string(from: applied.appliedAt)) (\(applied.appliedBy))")
                } else {
                    print("no policy commit is in force yet; see `cvmctl policy apply`")
                }
            }
        }
    }
}

struct DiagnosticOutput: Encodable {
    var file: String
    var line: Int
    var column: Int
    var key: String
    var kind: String
    var message: String

    init(_ d: PolicyDiagnostic) {
        file = d.location.file
        line = d.location.line
        column = d.location.column
        key = d.key
        kind = d.kind.rawValue
        message = d.message
    }
}

struct ValidationOutput: Encodable {
    var commit: String
    var ref: String
    var valid: Bool
    var diagnostics: [DiagnosticOutput]
}

typealias ActionOutput = PlannedActionReport
typealias PlanOutput = PolicyPlanReport

struct OutcomeOutput: Encodable {
    var cvm: String
    var action: ActionOutput
    var succeeded: Bool
    var summary: String
    var failure: String?

    init(_ o: ActionOutcome) {
        cvm = o.prepared.cvm
        action = ActionOutput(o.prepared.action)
        succeeded = o.succeeded
        summary = o.summary
        failure = o.failure
    }
}

struct ApplyOutput: Encodable {
    var commit: String
    var outcomes: [OutcomeOutput]
}
