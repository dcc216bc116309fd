package import Foundation
import CVMProtocol
import Orchestrator
package import OpenAPIRuntime

/// The operations of openapi.yaml (the generated `APIProtocol`), answered from the store.
/// Authentication happened before (``BearerAuthMiddleware``); what reaches here is allowed.
struct APIHandler: APIProtocol {
    let orchestrator: CVMOrchestrator
    let operations: OperationRegistry
    let metrics: DaemonMetrics
    let version: String
    var store: Store { orchestrator.store }

    func getHealth(_ input: Operations.getHealth.Input) async throws -> Operations.getHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, version: version))))
    }

    func getMetrics(_ input: Operations.getMetrics.Input) async throws -> Operations.getMetrics.Output {
        metrics.refresh(cvms: try await store.cvms(), now: Date())
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
        let hosts = try await store.hosts().map { host in
            Components.Schemas.Host(
                name: host.name, trust: .init(rawValue: host.trust.rawValue)!, cpus: host.cpus, memoryMiB: host.memoryMiB,
                zone: host.zone, local: host.isLocal, address: host.address, costPerHour: host.costPerHour, latencyMs: host.latencyMs)
        }
        return .ok(.init(body: .json(.init(hosts: hosts))))
    }

    func listEvents(_ input: Operations.listEvents.Input) async throws -> Operations.listEvents.Output {
        let query = input.query
        let after = query.after ?? 0
        let limit = query.limit ?? 100
        if let problem = Self.eventFilterProblem(after: after, kind: query.kind, cvm: query.cvm)
            ?? Self.rangeProblem(limit, 1...1000, "limit") {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        // Filtered pages: read on until `limit` events matched or the journal ends.
        var matched: [EventRecord] = []
        var cursor = after
        while matched.count < limit {
            let page = try await store.events(after: cursor, limit: 1000)
            guard let last = page.last?.id else { break }
            cursor = last
            matched += page.filter { event in
                (query.kind.map { event.kind.hasPrefix($0) } ?? true) && (query.cvm.map { event.cvm == $0 } ?? true)
            }
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
        let events = EventStream(store: store, after: after, kind: query.kind, cvm: query.cvm)
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
        .ok(.init(body: .json(.init(operations: operations.all().map(Self.operation)))))
    }

    func getOperation(_ input: Operations.getOperation.Input) async throws -> Operations.getOperation.Output {
        if let problem = Self.nameProblem(input.path.id, key: "id") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let operation = operations.operation(input.path.id) else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no operation \(input.path.id)"))))
        }
        return .ok(.init(body: .json(Self.operation(operation))))
    }

    func cancelOperation(_ input: Operations.cancelOperation.Input) async throws -> Operations.cancelOperation.Output {
        if let problem = Self.nameProblem(input.path.id, key: "id") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard let operation = operations.cancel(input.path.id) else {
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
