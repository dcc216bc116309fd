package import Foundation
import Libvirt
import Logging
package import OpenAPIRuntime
import Orchestrator
import Synchronization

/// Hosts and images through the API: what `cvmctl host add|remove|probe` and `cvmctl image
/// build|verify` do.
extension APIHandler {
    // MARK: hosts

    func addHost(_ input: Operations.addHost.Input) async throws -> Operations.addHost.Output {
        guard case .json(let body) = input.body else { return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", "a JSON body is required")))) }
        if let problem = Self.nameProblem(body.name, key: "name") ?? Self.nameProblem(body.zone, key: "zone") ?? Self.identityProblem(body.identity) {
            return .badRequest(.init(body: .application_problem_plus_json(problem)))
        }
        let spec = HostSpec(name: body.name, address: body.address, user: body.user ?? "root", identity: body.identity, hostKey: body.hostKey,
                            zone: body.zone ?? "default", latitude: body.latitude ?? 0, longitude: body.longitude ?? 0,
                            trust: body.trust.flatMap { HostRecord.Trust(rawValue: $0.rawValue) } ?? .private,
                            cpus: body.cpus ?? 0, memoryMiB: body.memoryMiB ?? 0, costPerHour: body.costPerHour ?? 0,
                            dataDir: body.dataDir ?? "/var/lib/cvm", hypervisors: body.hypervisors?.map(\.rawValue) ?? ["qemu", "kvm"],
                            acceptNewHostKey: body.acceptNewHostKey ?? false)
        do {
            try spec.validate()
        } catch {
            return .badRequest(.init(body: .application_problem_plus_json(Problems.make(400, "Bad Request", Self.apiWording("\(error)")))))
        }
        let exists = try await store.host(named: spec.name) != nil
        if spec.name == CVMOrchestrator.localHostName || exists {
            return .conflict(.init(body: .application_problem_plus_json(Problems.make(409, "Conflict", "a host named '\(spec.name)' exists already; remove it first"))))
        }
        let orchestrator = self.orchestrator
        let operation = operations.start(.hostAdd, cvm: nil) { progress in
            progress("reaching \(spec.user)@\(spec.address) over SSH")
            let record = try await orchestrator.addHost(spec)
            return ("added host \(record.name) (\(record.user ?? "")@\(record.address ?? "")), host key \(record.hostKey ?? "?")", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    func removeHost(_ input: Operations.removeHost.Input) async throws -> Operations.removeHost.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard try await store.host(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no host named \(name)"))))
        }
        do {
            try await orchestrator.removeHost(named: name)
        } catch let error as OrchestratorError {
            // The local host, or CVMs placed there: the detail says which.
            return .conflict(.init(body: .application_problem_plus_json(Problems.make(409, "Conflict", "\(error)"))))
        }
        return .noContent(.init())
    }

    func probeHost(_ input: Operations.probeHost.Input) async throws -> Operations.probeHost.Output {
        let name = input.path.name
        if let problem = Self.nameProblem(name, key: "name") { return .badRequest(.init(body: .application_problem_plus_json(problem))) }
        guard try await store.host(named: name) != nil else {
            return .notFound(.init(body: .application_problem_plus_json(Problems.make(404, "Not Found", "no host named \(name)"))))
        }
        let probe: HostProbe
        do {
            probe = try await orchestrator.probeHost(named: name)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return .badGateway(.init(body: .application_problem_plus_json(Problems.make(502, "Bad Gateway", String("\(error)".prefix(500))))))
        }
        return .ok(.init(body: .json(.init(name: probe.name, reachable: probe.reachable, hostname: probe.hostname, libvirtVersion: probe.libvirtVersion,
                                           cpus: probe.cpus, memoryMiB: probe.memoryMiB, freeMemoryMiB: probe.freeMemoryMiB,
                                           roundTripMs: probe.roundTripMs))))
    }

    /// The identity must be an absolute path to a key only its owner may read: the daemon
    /// reads whatever path a request names, so it refuses keys others could read as well.
    static func identityProblem(_ path: String) -> Components.Schemas.Problem? {
        guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            return Problems.make(400, "Bad Request", "identity must be an absolute path on the daemon's machine")
        }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            return Problems.make(400, "Bad Request", "identity \(path) is not a file the daemon can read")
        }
        guard info.st_mode & 0o077 == 0 else {
            return Problems.make(400, "Bad Request", "identity \(path) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        return nil
    }

    /// The CLI's error text with request fields where it names flags.
    static func apiWording(_ text: String) -> String {
        [("--cpus, --memory-mib and --cost", "cpus, memoryMiB and costPerHour"), ("--accept-new-host-key", "acceptNewHostKey"),
         ("--host-key", "hostKey"), ("--address", "address"), ("--user", "user"), ("--hypervisors", "hypervisors"),
         ("--data-dir", "dataDir"), ("--lat ", "latitude "), ("--lon ", "longitude ")]
            .reduce(text) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    // MARK: images

    func verifyImage(_ input: Operations.verifyImage.Input) async throws -> Operations.verifyImage.Output {
        let name = input.path.name
        let catalog = orchestrator.catalog
        if let (status, problem) = Self.imageProblem(name, in: catalog) {
            return status == 400 ? .badRequest(.init(body: .application_problem_plus_json(problem)))
                : .notFound(.init(body: .application_problem_plus_json(problem)))
        }
        // Hashing reads the artifacts whole: on the API's small pool of threads for blocking
        // file work, not the cooperative pool, and never more than two at once.
        let image: ImageCatalog.VerifiedImage
        do {
            image = try await Self.fileWork.run { try catalog.verified(name) }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            return .conflict(.init(body: .application_problem_plus_json(Problems.make(409, "Conflict", String("\(error)".prefix(500))))))
        }
        let lock = image.lock
        return .ok(.init(body: .json(.init(
            image: lock.image, version: lock.version, builtAt: lock.builtAt,
            artifacts: lock.artifacts.sorted { $0.key < $1.key }.map { .init(name: $0.key, file: $0.value.file, sha256: $0.value.sha256, bytes: Int($0.value.bytes)) }))))
    }

    func buildImage(_ input: Operations.buildImage.Input) async throws -> Operations.buildImage.Output {
        let name = input.path.name
        let catalog = orchestrator.catalog
        if let (status, problem) = Self.imageProblem(name, in: catalog) {
            return status == 400 ? .badRequest(.init(body: .application_problem_plus_json(problem)))
                : .notFound(.init(body: .application_problem_plus_json(problem)))
        }
        guard imageBuilds.claim(name) else {
            return .conflict(.init(body: .application_problem_plus_json(Problems.make(409, "Conflict", "image \(name) is being built already"))))
        }
        let builds = imageBuilds
        let operation = operations.start(.imageBuild, cvm: nil) { progress in
            defer { builds.release(name) }
            let lock = try await catalog.build(name, logger: Logger(label: "cvm.image"), output: progress)
            return ("built \(lock.image) \(lock.version): \(lock.artifacts.count) artifacts, sha256 recorded", nil)
        }
        return .accepted(.init(body: .json(Self.operation(operation))))
    }

    /// A malformed image name (400) or one the catalog does not hold (404).
    static func imageProblem(_ name: String, in catalog: ImageCatalog) -> (Int, Components.Schemas.Problem)? {
        if let problem = nameProblem(name, key: "name") { return (400, problem) }
        guard catalog.names().contains(name) else { return (404, Problems.make(404, "Not Found", "no image named \(name) in \(catalog.root)")) }
        return nil
    }

    /// Blocking file work of API requests (hashing an image's artifacts).
    static let fileWork = BlockingWorkPool(name: "cvm.api.files", maximumThreads: 2)
}

/// The images being built through the API: one build of an image at a time.
final class ImageBuilds: Sendable {
    private let names = Mutex<Set<String>>([])

    /// True when `name` was not being built (it is now).
    func claim(_ name: String) -> Bool { names.withLock { $0.insert(name).inserted } }
    func release(_ name: String) { _ = names.withLock { $0.remove(name) } }
}
