package import Foundation
import Orchestrator
package import OpenAPIRuntime

/// The operations of openapi.yaml (the generated `APIProtocol`), answered from the store.
/// Authentication happened before (``BearerAuthMiddleware``); what reaches here is allowed.
struct APIHandler: APIProtocol {
    let store: Store
    let version: String

    func getHealth(_ input: Operations.getHealth.Input) async throws -> Operations.getHealth.Output {
        .ok(.init(body: .json(.init(status: .ok, version: version))))
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
        func bad(_ detail: String) -> Operations.listEvents.Output {
            .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", detail))))
        }
        let after = query.after ?? 0
        guard after >= 0 else { return bad("after must be 0 or more") }
        let limit = query.limit ?? 100
        guard (1...1000).contains(limit) else { return bad("limit must be between 1 and 1000") }
        if let kind = query.kind, kind.isEmpty || kind.unicodeScalars.count > 64 { return bad("kind must have 1 to 64 characters") }
        if let problem = Self.nameProblem(query.cvm, key: "cvm") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
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

    // MARK: mapping

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
