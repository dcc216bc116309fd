package import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
package import OpenAPIRuntime
import Orchestrator
import ServiceLifecycle
import Synchronization

/// The HTTP API of `cvmctl serve` as a service of its `ServiceGroup`: Hummingbird serving the
/// handlers generated from openapi.yaml, behind bearer-token authentication.
///
/// Loopback by default; it refuses to listen on any other address (plain HTTP would carry
/// the tokens in clear).
public struct APIServer: Service {
    public enum Failure: Error, CustomStringConvertible {
        case notLoopback(String)
        case badAddress(String)

        public var description: String {
            switch self {
            case .notLoopback(let address):
                return "--listen \(address): the API listens on a loopback address only (plain HTTP would carry the tokens in clear); use 127.0.0.1:PORT"
            case .badAddress(let address):
                return "--listen \(address): expected HOST:PORT with an IP address and a port 1-65535"
            }
        }
    }

    let application: Application<RouterResponder<BasicRequestContext>>
    public let host: String
    public let port: Int

    /// - Parameters:
    ///   - address: `HOST:PORT`, a loopback IP address.
    let operations: OperationRegistry
    let metrics = DaemonMetrics()

    public init(address: String, orchestrator: CVMOrchestrator, version: String, logger: Logger) throws {
        let (host, port) = try Self.parse(address)
        self.host = host
        self.port = port
        let metrics = self.metrics
        operations = OperationRegistry { kind, state, duration in
            metrics.operationEnded(kind: kind.rawValue, state: state.rawValue, duration: duration)
        }
        let router = Router()
        let routes = RouteTable()
        router.add(middleware: MetricsMiddleware(metrics: metrics, routes: routes))
        router.add(middleware: ProblemMiddleware(logger: logger, routes: routes))
        router.add(middleware: BearerAuthMiddleware(store: orchestrator.store))
        router.add(middleware: StrictJSONMiddleware())
        // Compact JSON, keys sorted: pretty printing doubled the time to list 1,000 CVMs.
        try APIHandler(orchestrator: orchestrator, operations: operations, metrics: metrics, version: version).registerHandlers(
            on: RecordingTransport(router: router, routes: routes), configuration: Configuration(jsonEncodingOptions: [.sortedKeys]))
        application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "cvmctl"), logger: logger)
    }

    /// Serves until the graceful shutdown; then cancels the operations still running (each
    /// rolls back) and waits for them.
    public func run() async throws {
        try await application.runService()
        await operations.cancelAll()
    }

    /// `HOST:PORT` with a loopback IP address.
    static func parse(_ address: String) throws(Failure) -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65_535).contains(port) else { throw .badAddress(address) }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            guard UInt32(bigEndian: v4.s_addr) >> 24 == 127 else { throw .notLoopback(address) }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            guard host == "::1" else { throw .notLoopback(address) }
        } else {
            throw .badAddress(address)
        }
        return (host, port)
    }
}

/// Every request but `GET /health` carries `Authorization: Bearer TOKEN` with a token the
/// store knows and has not revoked; a `read` token may only read (GET). Otherwise 401 (403
/// for a read token that writes), with a problem body.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: Store

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.utf8.count <= 300, header.hasPrefix("Bearer ") else {
            return Self.problem(.unauthorized, "a bearer token is required (Authorization: Bearer TOKEN; see `cvmctl token create`)")
        }
        let text = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let token = try await store.authenticate(token: text) else {
            return Self.problem(.unauthorized, "the token is unknown or revoked")
        }
        if token.scope == .read, request.method != .get, request.method != .head {
            return Self.problem(.forbidden, "token \(token.id) may only read")
        }
        return try await next(request, context)
    }

    static func problem(_ status: HTTPResponse.Status, _ detail: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let body = Problems.json(status.code, status.reasonPhrase, detail)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Errors no handler answered become problem bodies: a request the generated code cannot
/// decode (a malformed parameter or body) is a 400, an unknown route a 404; anything else a
/// 500, logged.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServerError {
            return BearerAuthMiddleware<Context>.problem(.badRequest, Self.describe(error))
        } catch let error as HTTPError where error.status == .notFound {
            // A path of the document with another method: 405 and the methods it has.
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty else { return BearerAuthMiddleware<Context>.problem(.notFound, "no such resource") }
            var response = BearerAuthMiddleware<Context>.problem(
                .methodNotAllowed, "\(request.method) is not an operation of \(request.uri.path); it has \(allowed.joined(separator: ", "))")
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        } catch let error as HTTPError {
            return BearerAuthMiddleware<Context>.problem(error.status, error.body ?? error.status.reasonPhrase)
        } catch {
            logger.error("API request failed", metadata: ["cvm.path": "\(request.uri.path)", "cvm.error": "\(error)"])
            return BearerAuthMiddleware<Context>.problem(.internalServerError, "the request failed; see the daemon's log")
        }
    }

    /// What was wrong with the request, in one line (bounded).
    static func describe(_ error: ServerError) -> String {
        let text = "\(error.underlyingError)"
        return "the request is not valid: " + String(text.prefix(300))
    }
}

/// The operations of the document, as the generated code registers them (method and path
/// template, `{name}` matching one segment): what a 405 lists in `Allow`.
final class RouteTable: Sendable {
    private let routes = Mutex<[(method: String, segments: [Substring])]>([])

    func add(method: HTTPRequest.Method, path: String) {
        routes.withLock { $0.append((method.rawValue, path.split(separator: "/"))) }
    }

    /// The template `path` matches (the first registered), if any.
    func template(for path: String) -> String? {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            routes.first { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { template, segment in
                        (template.hasPrefix("{") && template.hasSuffix("}")) || template == segment
                    }
            }.map { "/" + $0.segments.joined(separator: "/") }
        }
    }

    /// The methods of the templates `path` matches, sorted (empty: no such path).
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return routes.withLock { routes in
            Set(routes.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { template, segment in
                        (template.hasPrefix("{") && template.hasSuffix("}")) || template == segment
                    }
            }.map(\.method)).sorted()
        }
    }
}

/// Registers the generated handlers on the router, noting each operation in `routes`.
struct RecordingTransport<Context: RequestContext>: ServerTransport {
    let router: Router<Context>
    let routes: RouteTable

    func register(
        _ handler: @Sendable @escaping (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        routes.add(method: method, path: path)
        router.register(handler, method: method, path: path)
    }
}

/// Request bodies are at most 64 KiB, and no value in them is `null`: no request schema of
/// the document allows one, and the generated decoders would take it for "absent".
struct StrictJSONMiddleware<Context: RequestContext>: RouterMiddleware {
    static var maximumBody: Int { 64 * 1024 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put || request.method == .patch else { return try await next(request, context) }
        var request = request
        let body = try await request.collectBody(upTo: Self.maximumBody)
        if body.readableBytes > 0, let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed]),
           Self.containsNull(object, depth: 0) {
            return BearerAuthMiddleware<Context>.problem(.badRequest, "null is not a value of any field; leave the field out")
        }
        return try await next(request, context)
    }

    static func containsNull(_ value: Any, depth: Int) -> Bool {
        guard depth < 32 else { return true }
        if value is NSNull { return true }
        if let object = value as? [String: Any] { return object.values.contains { containsNull($0, depth: depth + 1) } }
        if let array = value as? [Any] { return array.contains { containsNull($0, depth: depth + 1) } }
        return false
    }
}

/// Counts and times every answer (outermost: problems and refusals included), by the
/// document's path template.
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: DaemonMetrics
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let began = ContinuousClock.now
        let response = try await next(request, context)
        metrics.request(method: request.method.rawValue, route: routes.template(for: request.uri.path) ?? "other",
                        status: response.status.code, duration: ContinuousClock.now - began)
        return response
    }
}
