package import Foundation
import CVMProtocol
import ConfigFile
import Orchestrator
package import OpenAPIRuntime
internal import TrafficManager

/// The operations of openapi.yaml (the generated `APIProtocol`), answered from the store.
/// Authentication happened before (``BearerAuthMiddleware``); what reaches here is allowed.
struct APIHandler: APIProtocol {
    let orchestrator: CVMOrchestrator
    let operations: OperationRegistry
    let metrics: DaemonMetrics
    let version: String
    let hostLoad: HostLoadMonitor
    let trafficManager: APIServer.TrafficManagerAccess?
    /// The policy repository when a request names none (the settings' policyRepo).
    let policyRepository: String?
    let imageBuilds = ImageBuilds()
    var store: Store { orchestrator.store }

    func getHealth(_ input: Operations.getHealth.Input) async throws -> Operations.getHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, version: version))))
    }

    func getMetrics(_ input: Operations.getMetrics.Input) async throws -> Operations.getMetrics.Output {
        let cvms = try await store.cvms()
        metrics.refresh(cvms: cvms, now: Date())
        metrics.observeResults(cvms: cvms)
        let load = hostLoad.load
        metrics.refresh(hosts: try await store.hosts().map { host in
            let (cpus, memory) = Self.capacity(host)
            let placed = cvms.filter { $0.host == host.name }
            return (host.name, cpus, memory, placed.reduce(0) { $0 + $1.vcpus }, placed.reduce(0) { $0 + $1.memoryMiB }, load[host.name])
        })
        metrics.refresh(elasticEvents: try await store.eventCounts(kindPrefix: "elastic."))
        return .ok(.init(body: .plainText(HTTPBody(metrics.text()))))
    }

    func listCVMs(_ input: Operations.listCVMs.Input) async throws -> Operations.listCVMs.Output {
        let query = input.query
        for (key, value) in [("task", query.task), ("host", query.host)] {
            if let problem = Self.nameProblem(value, key: key) { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        }
        let now = Date()
        let cvms = try await store.cvms().filter { cvm in
            (query.task.map { cvm.task == $0 } ?? true) && (query.host.map { cvm.host == $0 } ?? true)
                && (query.state.map { cvm.state.rawValue == $0.rawValue } ?? true)
        }
        return .ok(.init(body: .json(.init(cvms: cvms.map { Self.cvm($0, now: now) }))))
    }

    func getCVM(_ input: Operations.getCVM.Input) async throws -> Operations.getCVM.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let cvm = try await store.cvm(named: name) else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no CVM named \(name)"))))
        }
        return .ok(.init(body: .json(Self.cvm(cvm, now: Date()))))
    }

    func listHosts(_ input: Operations.listHosts.Input) async throws -> Operations.listHosts.Output {
        let cvms = try await store.cvms()
        let load = hostLoad.load
        let hosts = try await store.hosts().map { host in
            let placed = cvms.filter { $0.host == host.name }
            let (cpus, memory) = Self.capacity(host)
            return Components.Schemas.Host(
                name: host.name, trust: .init(rawValue: host.trust.rawValue)!, cpus: cpus, memoryMiB: memory,
                zone: host.zone, local: host.isLocal, address: host.address, costPerHour: host.costPerHour, latencyMs: host.latencyMs,
                allocatedVcpus: placed.reduce(0) { $0 + $1.vcpus }, allocatedMemoryMiB: placed.reduce(0) { $0 + $1.memoryMiB },
                cvms: placed.count, loadPercent: load[host.name].map { ($0 * 1000).rounded() / 10 })
        }
        return .ok(.init(body: .json(.init(hosts: hosts))))
    }

    func listClusters(_ input: Operations.listClusters.Input) async throws -> Operations.listClusters.Output {
        let cvms = try await store.cvms()
        let now = Date()
        return .ok(.init(body: .json(.init(clusters: try await store.clusters().map { Self.cluster($0, cvms: cvms, now: now) }))))
    }

    func getCluster(_ input: Operations.getCluster.Input) async throws -> Operations.getCluster.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let cluster = try await store.cluster(named: name) else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no cluster named \(name)"))))
        }
        return .ok(.init(body: .json(Self.cluster(cluster, cvms: try await store.cvms(), now: Date()))))
    }

    func createCluster(_ input: Operations.createCluster.Input) async throws -> Operations.createCluster.Output {
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", "a JSON body is required")))) }
        var problem = Self.nameProblem(body.name, key: "name") ?? Self.nameProblem(body.image, key: "image") ?? Self.nameProblem(body.task, key: "task")
            ?? Self.rangeProblem(body.size, CVMOrchestrator.clusterSizes.lowerBound...CVMOrchestrator.clusterSizes.upperBound, "size")
            ?? Self.rangeProblem(body.timeoutSeconds, 1...3600, "timeoutSeconds")
        if (body.hosts?.count ?? 0) > 64 { problem = Problems.make(400, "Bad Request", "hosts may name 64 hosts at most") }
        for host in body.hosts ?? [] { problem = problem ?? Self.nameProblem(host, key: "hosts") }
        if let problem { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        let request = ClusterRequest(name: body.name, image: body.image, task: body.task, size: body.size,
                                     hosts: body.hosts.flatMap { $0.isEmpty ? nil : $0 } ?? [CVMOrchestrator.localHostName],
                                     timeout: body.timeoutSeconds.map { .seconds($0) })
        let orchestrator = self.orchestrator
        let operation = operations.start(.clusterCreate, cvm: nil) { progress in
            let report = try await orchestrator.createCluster(request, progress: progress)
            return ("cluster \(report.name): \(report.members.count) members (\(report.members.map(\.name).joined(separator: ", ")))", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func deleteCluster(_ input: Operations.deleteCluster.Input) async throws -> Operations.deleteCluster.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard try await store.cluster(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no cluster named \(name)"))))
        }
        let orchestrator = self.orchestrator
        let operation = operations.start(.clusterDelete, cvm: nil) { progress in
            let results = try await orchestrator.deleteCluster(name: name, progress: progress)
            return ("cluster \(name) deleted (\(results.count) members decommissioned)", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func healCluster(_ input: Operations.healCluster.Input) async throws -> Operations.healCluster.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard try await store.cluster(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no cluster named \(name)"))))
        }
        let orchestrator = self.orchestrator
        let operation = operations.start(.clusterHeal, cvm: nil) { progress in
            let healed = try await orchestrator.healCluster(name: name, progress: progress)
            var parts: [String] = []
            if let promoted = healed.promoted { parts.append("promoted \(promoted)") }
            if !healed.replaced.isEmpty { parts.append("replaced \(healed.replaced.count)") }
            if !healed.added.isEmpty { parts.append("added \(healed.added.joined(separator: ", "))") }
            return ("cluster \(name): \(parts.isEmpty ? "healthy, nothing to do" : parts.joined(separator: "; "))", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func explainCVM(_ input: Operations.explainCVM.Input) async throws -> Operations.explainCVM.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        let placements = try await store.placements(of: name)
        if placements.isEmpty, try await store.cvm(named: name) == nil {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no CVM named \(name)"))))
        }
        return .ok(.init(body: .json(.init(placements: placements.map { placement in
            Components.Schemas.Placement(at: placement.at, cvm: placement.cvm, task: placement.task, action: placement.action,
                                         host: placement.host, policyCommit: placement.policyCommit, reason: placement.reason,
                                         explanation: placement.explanation, origin: placement.origin)
        }))))
    }

    func getTrafficManager(_ input: Operations.getTrafficManager.Input) async throws -> Operations.getTrafficManager.Output {
        func unavailable(_ detail: String) -> Operations.getTrafficManager.Output {
            .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", detail))))
        }
        guard let trafficManager else { return unavailable("no traffic manager is configured for this daemon") }
        let token: String
        do {
            token = try TokenFile.read(path: trafficManager.tokenFile)
        } catch {
            return unavailable("\(error)")
        }
        var parts: [String: String] = [:]
        for path in ["/usage", "/status"] {
            do {
                let response = try await AdminClient.request(.GET, path, to: trafficManager.admin, token: token, timeout: .seconds(3))
                guard response.status == 200 else {
                    return unavailable("the traffic manager at \(trafficManager.admin) answered \(path) with \(response.status)")
                }
                parts[path] = response.text
            } catch {
                return unavailable("no traffic manager answers at \(trafficManager.admin): \(error)")
            }
        }
        // The two documents as they are, inside one object (the schema leaves them open).
        let admin = String(decoding: try JSONEncoder().encode(trafficManager.admin.description), as: UTF8.self)
        let json = "{\"admin\":\(admin),\"usage\":\(parts["/usage"]!),\"status\":\(parts["/status"]!)}"
        do {
            return .ok(.init(body: .json(try JSONDecoder().decode(Components.Schemas.TrafficManager.self, from: Data(json.utf8)))))
        } catch {
            return unavailable("the traffic manager at \(trafficManager.admin) answered with something that is not its usage and status")
        }
    }

    // MARK: status, images, policy

    func getStatus(_ input: Operations.getStatus.Input) async throws -> Operations.getStatus.Output {
        let report = try await orchestrator.status()
        let json = "{\"exitCode\":\(report.exitCode),\"report\":\(String(decoding: try Self.encoder.encode(report), as: UTF8.self))}"
        return .ok(.init(body: .json(try JSONDecoder().decode(Components.Schemas.StatusAnswer.self, from: Data(json.utf8)))))
    }

    func listImages(_ input: Operations.listImages.Input) async throws -> Operations.listImages.Output {
        let catalog = orchestrator.catalog
        let images = try catalog.names().map { name in
            let manifest = try catalog.manifest(name)
            return Components.Schemas.Image(
                name: manifest.name, version: manifest.version, description: manifest.description, tasks: manifest.tasks,
                hypervisors: manifest.hypervisors, vcpus: manifest.defaults.vcpus, memoryMiB: manifest.defaults.memoryMiB,
                diskMiB: manifest.defaults.diskMiB, built: try catalog.lock(name) != nil)
        }
        return .ok(.init(body: .json(.init(images: images))))
    }

    func getPolicy(_ input: Operations.getPolicy.Input) async throws -> Operations.getPolicy.Output {
        guard let applied = try await store.appliedPolicy() else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no policy commit is in force yet; see POST /v1/policy/apply"))))
        }
        return .ok(.init(body: .json(.init(commit: applied.commit, ref: applied.ref, repository: applied.repository,
                                           appliedAt: applied.appliedAt, appliedBy: applied.appliedBy))))
    }

    func planPolicy(_ input: Operations.planPolicy.Input) async throws -> Operations.planPolicy.Output {
        if let problem = Self.refProblem(input.query.ref) { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        do {
            let revision = try await revision(ref: input.query.ref, journaled: false)
            let report = PolicyPlanReport(try orchestrator.policyPlan(revision, observations: []))
            return .ok(.init(body: .json(try JSONDecoder().decode(Components.Schemas.PolicyPlan.self, from: try Self.encoder.encode(report)))))
        } catch let problem as PolicyProblem {
            let body = Components.Schemas.Problem(_type: "about:blank", title: problem.invalid ? "Conflict" : "Not Found",
                                                  status: problem.invalid ? 409 : 404, detail: problem.detail)
            return problem.invalid ? .conflict(.init(body: .application_problem_plus_json(body))) : .notFound(.init(body: .application_problem_plus_json(body)))
        }
    }

    func applyPolicy(_ input: Operations.applyPolicy.Input) async throws -> Operations.applyPolicy.Output {
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", "a JSON body is required")))) }
        if let problem = Self.refProblem(body.ref) { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        let revision: PolicyRevision
        let root: String
        do {
            revision = try await self.revision(ref: body.ref, journaled: true)
            do {
                root = try PolicyRepository(directory: policyRepository ?? "").root()
            } catch {
                throw PolicyProblem(detail: "\(error)", invalid: false)
            }
        } catch let problem as PolicyProblem {
            let body = Components.Schemas.Problem(_type: "about:blank", title: problem.invalid ? "Conflict" : "Not Found",
                                                  status: problem.invalid ? 409 : 404, detail: problem.detail)
            return problem.invalid ? .conflict(.init(body: .application_problem_plus_json(body))) : .notFound(.init(body: .application_problem_plus_json(body)))
        }
        let orchestrator = self.orchestrator
        let operation = operations.start(.policyApply, cvm: nil) { progress in
            let plan = try orchestrator.policyPlan(revision, observations: [])
            let outcomes = try await orchestrator.applyPolicy(revision, plan: plan, repositoryRoot: root, progress: progress)
            let failed = outcomes.filter { !$0.succeeded }
            if !failed.isEmpty {
                throw OrchestratorError.invalidArgument("\(failed.count) of \(outcomes.count) actions failed: \(failed.map(\.summary).joined(separator: "; "))")
            }
            return ("policy commit \(revision.shortCommit) is in force; \(outcomes.isEmpty ? "nothing to change" : outcomes.map(\.summary).joined(separator: "; "))", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    /// Why a policy request cannot go on: the repository or ref is not there (404), or the
    /// commit's policies are not valid (409).
    struct PolicyProblem: Error {
        var detail: String
        var invalid: Bool
    }

    /// A problem when `ref` is given but empty or longer than 256 characters.
    static func refProblem(_ ref: String?) -> Components.Schemas.Problem? {
        guard let ref, ref.isEmpty || ref.unicodeScalars.count > 256 else { return nil }
        return Problems.make(400, "Bad Request", "ref must have 1 to 256 characters")
    }

    /// The revision of `ref` (default HEAD) in the daemon's policy repository. The daemon reads
    /// its own repository only: a request cannot make it read another path.
    private func revision(ref: String?, journaled: Bool) async throws -> PolicyRevision {
        guard let directory = policyRepository else {
            throw PolicyProblem(detail: "the daemon has no policy repository: start it with --repo, or set policyRepo in its settings file", invalid: false)
        }
        let repository = PolicyRepository(directory: directory)
        let commit: String
        do {
            commit = try repository.resolve(ref ?? "HEAD")  // one `git rev-parse`
        } catch {
            throw PolicyProblem(detail: String("\(error)".split(separator: "\n").first ?? "").prefix(500).description, invalid: false)
        }
        do {
            return try await orchestrator.policyRevision(repository, ref: commit, refusalJournaled: journaled)
        } catch {
            throw PolicyProblem(detail: String("\(error)".split(separator: "\n").first ?? "").prefix(500).description, invalid: true)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    func listEvents(_ input: Operations.listEvents.Input) async throws -> Operations.listEvents.Output {
        let query = input.query
        let after = query.after ?? 0
        let limit = query.limit ?? 100
        if let problem = Self.eventFilterProblem(after: after, kind: query.kind, cvm: query.cvm)
            ?? Self.rangeProblem(limit, 1...1000, "limit") {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        // Filtered pages: read on until `limit` events matched or the journal ends.
        let filter = EventFilter(kind: query.kind, cvm: query.cvm, since: query.since)
        var matched: [EventRecord] = []
        var cursor = after
        while matched.count < limit {
            let page = try await store.events(after: cursor, limit: 1000)
            guard let last = page.last?.id else { break }
            cursor = last
            matched += page.filter(filter.matches)
            if page.count < 1000 { break }
        }
        let events = matched.prefix(limit).map { event in
            Components.Schemas.Event(id: event.id ?? 0, at: event.at, kind: event.kind, cvm: event.cvm, host: event.host,
                                     message: event.message, policyCommit: event.policyCommit)
        }
        return .ok(.init(body: .json(.init(events: Array(events)))))
    }

    func streamEvents(_ input: Operations.streamEvents.Input) async throws -> Operations.streamEvents.Output {
        let query = input.query
        let after = query.after ?? 0
        if let problem = Self.eventFilterProblem(after: after, kind: query.kind, cvm: query.cvm) {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        let events = EventStream(store: store, after: after, filter: EventFilter(kind: query.kind, cvm: query.cvm, since: query.since))
        return .ok(.init(body: .text_event_hyphen_stream(HTTPBody(events, length: .unknown, iterationBehavior: .single))))
    }

    // MARK: long operations

    func deployCVM(_ input: Operations.deployCVM.Input) async throws -> Operations.deployCVM.Output {
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", "a JSON body is required")))) }
        for (key, value) in [("image", body.image), ("name", body.name), ("host", body.host), ("task", body.task)] {
            if let problem = Self.nameProblem(value, key: key) { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        }
        if let problem = Self.rangeProblem(body.vcpus, 1...64, "vcpus") ?? Self.rangeProblem(body.memoryMiB, 64...1_048_576, "memoryMiB")
            ?? Self.rangeProblem(body.timeoutSeconds, 1...3600, "timeoutSeconds") {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        let request = DeployRequest(
            image: body.image, name: body.name, host: body.host ?? CVMOrchestrator.localHostName, task: body.task,
            role: body.role.flatMap { AgentConfig.Role(rawValue: $0.rawValue) } ?? .single, vcpus: body.vcpus, memoryMiB: body.memoryMiB,
            timeout: body.timeoutSeconds.map { .seconds($0) })
        let orchestrator = self.orchestrator
        let operation = operations.start(.deploy, cvm: body.name) { progress in
            let result = try await orchestrator.deploy(request, progress: progress)
            return ("deployed \(result.cvm.name) on \(result.cvm.host): first heartbeat \(result.bootToHeartbeatMs) ms after start, \(result.totalMs) ms in all",
                    result.cvm.name)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func decommissionCVM(_ input: Operations.decommissionCVM.Input) async throws -> Operations.decommissionCVM.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") ?? Self.rangeProblem(input.query.grace, 0...3600, "grace") {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        guard try await store.cvm(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no CVM named \(name)"))))
        }
        let grace = Duration.seconds(input.query.grace ?? 10)
        let orchestrator = self.orchestrator
        let operation = operations.start(.decommission, cvm: name) { _ in
            let result = try await orchestrator.decommission(name: name, grace: grace)
            return ("decommissioned \(name) (\(result.outcome.rawValue)) in \(result.totalMs) ms", name)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func migrateCVM(_ input: Operations.migrateCVM.Input) async throws -> Operations.migrateCVM.Output {
        let name = input.path.name
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", "a JSON body is required")))) }
        if let problem = Self.nameProblem(name, key: "name") ?? Self.nameProblem(body.to, key: "to")
            ?? Self.rangeProblem(body.bandwidthMiBs, 1...100_000, "bandwidthMiBs") ?? Self.rangeProblem(body.maxDowntimeMs, 1...60_000, "maxDowntimeMs") {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        guard try await store.cvm(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no CVM named \(name)"))))
        }
        let request = MigrateRequest(name: name, destination: body.to, bandwidthMiBs: body.bandwidthMiBs.map { UInt64($0) },
                                     maxDowntime: body.maxDowntimeMs.map { .milliseconds($0) } ?? MigrateRequest.defaultMaxDowntime)
        let orchestrator = self.orchestrator
        let operation = operations.start(.migrate, cvm: name) { progress in
            let result = try await orchestrator.migrate(request) { step in
                switch step {
                case .phase(let text): progress(text)
                case .transfer(let done, let total, let what): progress("\(what): \(done) of \(total) bytes")
                case .copying(let remaining, let total): progress("memory: \(remaining) of \(total) bytes left")
                }
            }
            return ("migrated \(name) from \(result.from) to \(result.to) in \(result.totalMs) ms (paused \(result.pauseMs.map(String.init) ?? "?") ms)", name)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func listOperations(_ input: Operations.listOperations.Input) async throws -> Operations.listOperations.Output {
        .ok(.init(body: .json(.init(operations: await operations.all().map(Self.operation)))))
    }

    func getOperation(_ input: Operations.getOperation.Input) async throws -> Operations.getOperation.Output {
        if let problem = Self.nameProblem(input.path.id, key: "id") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let operation = await operations.operation(input.path.id) else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no operation \(input.path.id)"))))
        }
        return .ok(.init(body: .json(Self.operation(operation))))
    }

    func followOperation(_ input: Operations.followOperation.Input) async throws -> Operations.followOperation.Output {
        if let problem = Self.nameProblem(input.path.id, key: "id") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard await operations.operation(input.path.id) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no operation \(input.path.id)"))))
        }
        let stream = OperationStream(operations: operations, id: input.path.id)
        return .ok(.init(body: .text_event_hyphen_stream(HTTPBody(stream, length: .unknown, iterationBehavior: .single))))
    }

    func cancelOperation(_ input: Operations.cancelOperation.Input) async throws -> Operations.cancelOperation.Output {
        if let problem = Self.nameProblem(input.path.id, key: "id") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let operation = await operations.cancel(input.path.id) else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no operation \(input.path.id)"))))
        }
        guard operation.cancelRequested else {
            return .conflict(.init(body: .application_problem_plus_json(
                Problems.make(409, "Conflict", "operation \(operation.id) has ended (\(operation.state.rawValue))"))))
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    // MARK: mapping

    static func operation(_ operation: OperationRegistry.Operation) -> Components.Schemas.Operation {
        Components.Schemas.Operation(
            id: operation.id, kind: .init(rawValue: operation.kind.rawValue)!, cvm: operation.cvm,
            state: .init(rawValue: operation.state.rawValue)!, startedAt: operation.startedAt, endedAt: operation.endedAt,
            progress: operation.progress, result: operation.result, error: operation.error,
            cancelRequested: operation.cancelRequested ? true : nil)
    }

    /// A problem with the journal's filters (`after` >= 0, `kind` 1-64 characters, `cvm` a name).
    static func eventFilterProblem(after: Int64, kind: String?, cvm: String?) -> Components.Schemas.Problem? {
        if after < 0 { return Problems.make(400, "Bad Request", "after must be 0 or more") }
        if let kind, kind.isEmpty || kind.unicodeScalars.count > 64 { return Problems.make(400, "Bad Request", "kind must have 1 to 64 characters") }
        return nameProblem(cvm, key: "cvm")
    }

    /// A problem when `value` is given and outside `range`.
    static func rangeProblem(_ value: Int?, _ range: ClosedRange<Int>, _ key: String) -> Components.Schemas.Problem? {
        guard let value, !range.contains(value) else { return nil }
        return Problems.make(400, "Bad Request", "\(key) must be between \(range.lowerBound) and \(range.upperBound)")
    }

    /// A host's CPUs and memory: the local host's are this machine's (the store keeps none for it).
    static func capacity(_ host: HostRecord) -> (cpus: Int, memoryMiB: Int) {
        guard host.isLocal, host.cpus == 0 || host.memoryMiB == 0 else { return (host.cpus, host.memoryMiB) }
        let machine = LocalMachine.current()
        return (host.cpus == 0 ? machine.cpus : host.cpus, host.memoryMiB == 0 ? machine.memoryMiB : host.memoryMiB)
    }

    static func cluster(_ cluster: ClusterRecord, cvms: [CVMRecord], now: Date) -> Components.Schemas.Cluster {
        Components.Schemas.Cluster(
            name: cluster.name, image: cluster.image, task: cluster.task, size: cluster.size, hosts: cluster.hosts,
            members: cvms.filter { $0.cluster == cluster.name }.map { member in
                Components.Schemas.ClusterMember(
                    name: member.name, role: member.role.rawValue, state: .init(rawValue: member.state.rawValue)!, host: member.host,
                    lastHeartbeatAgeSeconds: member.lastHeartbeatAt.map { max(0, now.timeIntervalSince($0)) })
            },
            createdAt: cluster.createdAt)
    }

    static func cvm(_ cvm: CVMRecord, now: Date) -> Components.Schemas.CVM {
        Components.Schemas.CVM(
            name: cvm.name, id: cvm.id, state: .init(rawValue: cvm.state.rawValue)!, host: cvm.host, image: cvm.image,
            task: cvm.task, role: cvm.role.rawValue, cluster: cvm.cluster, vcpus: cvm.vcpus, memoryMiB: cvm.memoryMiB,
            createdAt: cvm.createdAt, lastHeartbeatAgeSeconds: cvm.lastHeartbeatAt.map { max(0, now.timeIntervalSince($0)) },
            cpuPercent: cvm.cpuPercent, memUsedKiB: cvm.memUsedKiB, connections: cvm.connections, serving: cvm.serving,
            failure: cvm.failure, policyCommit: cvm.policyCommit)
    }

    /// A problem when `value` is given but is not a name (1 to 128 characters: code points,
    /// as JSON Schema counts them).
    static func nameProblem(_ value: String?, key: String) -> Components.Schemas.Problem? {
        guard let value, value.isEmpty || value.unicodeScalars.count > 128 else { return nil }
        return Problems.make(400, "Bad Request", "\(key) must have 1 to 128 characters")
    }
}

/// Problem details (RFC 9457).
enum Problems {
    static func make(_ status: Int, _ title: String, _ detail: String) -> Components.Schemas.Problem {
        .init(_type: "about:blank", title: title, status: status, detail: detail)
    }

    /// The JSON of a problem, for answers made outside the generated handlers.
    static func json(_ status: Int, _ title: String, _ detail: String) -> String {
        let object: [String: Any] = ["type": "about:blank", "title": title, "status": status, "detail": detail]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
