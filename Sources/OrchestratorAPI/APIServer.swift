package import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import OpenAPIHummingbird
package import OpenAPIRuntime
import Orchestrator
import ServiceLifecycle
public import TrafficManager
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
        case tls(String)

        public var description: String {
            switch self {
            case .notLoopback(let address):
                return "--listen \(address): without TLS the API listens on a loopback address only (plain HTTP would carry the tokens in clear); use 127.0.0.1:PORT, or give --tls-certificate and --tls-key"
            case .badAddress(let address):
                return "--listen \(address): expected HOST:PORT with an IP address and a port 1-65535"
            case .tls(let problem):
                return problem
            }
        }
    }

    /// The certificate (PEM, the chain) and private key (PEM, readable by its owner only) of
    /// an HTTPS listener.
    public struct TLSFiles: Sendable {
        public var certificate: String
        public var key: String
        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }

        /// The server configuration (TLS 1.2 or later), or one line saying what is wrong.
        func configuration() throws(Failure) -> TLSConfiguration {
            var status = stat()
            guard stat(key, &status) == 0 else {
                throw .tls("--tls-key \(key): \(String(cString: strerror(errno)))")
            }
            guard status.st_mode & 0o077 == 0 else {
                throw .tls("--tls-key \(key) may be read by group or others (mode \(String(status.st_mode & 0o777, radix: 8))); run `chmod 600 \(key)`")
            }
            let chain: [NIOSSLCertificate]
            do {
                chain = try NIOSSLCertificate.fromPEMFile(certificate)
            } catch {
                throw .tls("--tls-certificate \(certificate): not a readable PEM certificate (\(error))")
            }
            guard !chain.isEmpty else { throw .tls("--tls-certificate \(certificate): no certificate in it") }
            let privateKey: NIOSSLPrivateKey
            do {
                privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
            } catch {
                throw .tls("--tls-key \(key): not a readable PEM private key (\(error))")
            }
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            configuration.minimumTLSVersion = .tlsv12
            // The key must be the certificate's: a context made from a mismatched pair fails here.
            do {
                _ = try NIOSSLContext(configuration: configuration)
            } catch {
                throw .tls("--tls-key \(key) does not belong to --tls-certificate \(certificate) (\(error))")
            }
            return configuration
        }
    }

    let application: Application<RouterResponder<BasicRequestContext>>
    public let host: String
    public let port: Int

    /// - Parameters:
    ///   - address: `HOST:PORT`, a loopback IP address.
    let operations: OperationRegistry
    let metrics = DaemonMetrics()
    private let running = Flag()

    /// Whether the listener is bound and serving (what `READY=1` waits for).
    public var isRunning: Bool { running.isSet }

    let hostLoad: HostLoadMonitor

    /// Where `/v1/tms` reads the traffic manager: its admin endpoint and admin token file.
    public struct TrafficManagerAccess: Sendable {
        public var admin: HostPort
        public var tokenFile: String
        public init(admin: HostPort, tokenFile: String) {
            self.admin = admin
            self.tokenFile = tokenFile
        }
    }

    /// Whether it serves HTTPS.
    public let isTLS: Bool
    private let logger: Logger

    public init(address: String, orchestrator: CVMOrchestrator, version: String, logger: Logger,
                trafficManager: TrafficManagerAccess? = nil, tls: TLSFiles? = nil, policyRepository: String? = nil) throws {
        let (host, port) = try Self.parse(address, tls: tls != nil)
        let tlsConfiguration = try tls?.configuration()
        isTLS = tls != nil
        self.logger = logger
        self.host = host
        self.port = port
        let metrics = self.metrics
        operations = OperationRegistry(store: orchestrator.store) { kind, state, duration in
            metrics.operationEnded(kind: kind.rawValue, state: state.rawValue, duration: duration)
        }
        let router = Router()
        let routes = RouteTable()
        router.add(middleware: MetricsMiddleware(metrics: metrics, routes: routes))
        router.add(middleware: ProblemMiddleware(logger: logger, routes: routes))
        router.add(middleware: BearerAuthMiddleware(store: orchestrator.store))
        router.add(middleware: StrictJSONMiddleware())
        // Compact JSON, keys sorted: pretty printing doubled the time to list 1,000 CVMs.
        let hostLoad = HostLoadMonitor(orchestrator: orchestrator, logger: logger)
        self.hostLoad = hostLoad
        try APIHandler(orchestrator: orchestrator, operations: operations, metrics: metrics, version: version,
                       hostLoad: hostLoad, trafficManager: trafficManager, policyRepository: policyRepository).registerHandlers(
            on: RecordingTransport(router: router, routes: routes), configuration: Configuration(dateTranscoder: RFC3339Dates(), jsonEncodingOptions: [.sortedKeys]))
        // The dashboard: one page, no data in it (it reads the API with the token the
        // operator gives it), so it is served without a token.
        router.get("/ui") { _, _ in Dashboard.response() }
        let running = self.running
        application = Application(
            router: router, server: try tlsConfiguration.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname(host, port: port), serverName: "cvmctl"),
            onServerRunning: { _ in running.set() }, logger: logger)
    }

    /// Serves until the graceful shutdown; then cancels the operations still running (each
    /// rolls back) and waits for them.
    public func run() async throws {
        let hostLoad = self.hostLoad
        if let interrupted = try? await operations.interruptOrphaned(), interrupted > 0 {
            logger.warning("operations of a daemon that stopped marked interrupted", metadata: ["cvm.count": "\(interrupted)"])
        }
        // The hosts' load, every 5 s while the API serves (for /v1/hosts and /metrics).
        let sampler = Task {
            while !Task.isCancelled {
                await hostLoad.sample()
                try? await Task.sleep(for: .seconds(5))
            }
        }
        defer { sampler.cancel() }
        try await application.runService()
        await operations.cancelAll()
    }

    /// `HOST:PORT` with an IP address: a loopback one unless the API serves TLS.
    static func parse(_ address: String, tls: Bool = false) throws(Failure) -> (String, Int) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65_535).contains(port) else { throw .badAddress(address) }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            guard tls || UInt32(bigEndian: v4.s_addr) >> 24 == 127 else { throw .notLoopback(address) }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            guard tls || host == "::1" else { throw .notLoopback(address) }
        } else {
            throw .badAddress(address)
        }
        return (host, port)
    }
}

/// Every request but `GET /health` and `GET /ui` (the dashboard's page) carries `Authorization: Bearer TOKEN` with a token the
/// store knows and has not revoked; a `read` token may only read (GET). Otherwise 401 (403
/// for a read token that writes), with a problem body.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: Store

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health" || (request.uri.path == "/ui" && request.method == .get) {
            return try await next(request, context)
        }
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

/// A flag set once, read by any thread.
final class Flag: Sendable {
    private let value = Atomic(false)

    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Dates as RFC 3339 allows them: with or without fractional seconds when read (`since=…`),
/// whole seconds when written.
struct RFC3339Dates: DateTranscoder {
    private let whole = ISO8601DateTranscoder()
    private let fractional = ISO8601DateTranscoder(options: [.withInternetDateTime, .withFractionalSeconds])

    func encode(_ date: Date) throws -> String { try whole.encode(date) }

    func decode(_ text: String) throws -> Date {
        guard text.utf8.count <= 64 else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a date-time has 64 characters at most")) }
        return try (try? whole.decode(text)) ?? fractional.decode(text)
    }
}
