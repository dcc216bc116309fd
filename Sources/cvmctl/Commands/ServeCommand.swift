import ArgumentParser
import Foundation
import Logging
import Orchestrator
import TrafficManager
import OrchestratorAPI
import ServiceLifecycle

/// `cvmctl serve`: the orchestrator as a daemon.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the orchestrator as a daemon: the heartbeat monitor and the HTTP API.",
        discussion: """
            One process (a service-lifecycle ServiceGroup) runs the heartbeat monitor (unless \
            another process runs one for this state directory) and the HTTP API described by \
            openapi.yaml (Sources/OrchestratorAPI; its server code is generated from it). Every \
            request but GET /health needs a bearer token of `cvmctl token create`. The API \
            listens on a loopback address only. SIGTERM or SIGINT stops it; the monitor's \
            shutdown is the monitor's.
            """)

    static let gracefulShutdown = Duration.seconds(10)
    static let watchdog = Duration.seconds(15)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The API's address, a loopback IP address and port (default: CVM_API_LISTEN, else the settings file's apiListen, else 127.0.0.1:9911).", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("HTTPS: the certificate chain (PEM). With --tls-key, the API may listen on any address.", valueName: "file"))
    var tlsCertificate: String?

    @Option(help: ArgumentHelp("HTTPS: the certificate's private key (PEM, mode 0600).", valueName: "file"))
    var tlsKey: String?

    @Flag(help: "Run the API only: another process (`cvmctl monitor`) watches the CVMs.")
    var withoutMonitor = false

    @Flag(help: "Run elastic mode in the daemon too (the options below; see `cvmctl elastic run --help`).")
    var elastic = false

    @OptionGroup(title: "Elastic mode (with --elastic)") var elasticOptions: ElasticOptions

    func run() async throws {
        try await reportingErrors {
            let orchestrator = try global.orchestrator()
            var logger = global.logger
            if global.verbose == 0 && !global.quiet { logger.logLevel = .info }
            let address = listen ?? ProcessInfo.processInfo.environment["CVM_API_LISTEN"] ?? global.settings.apiListen ?? "127.0.0.1:9911"
            let api: APIServer
            do {
                // /v1/tms reads the traffic manager where `cvmctl tms usage` would.
                let tmsAdmin = ProcessInfo.processInfo.environment["CVM_TMS_ADMIN"] ?? global.settings.tmsAdmin
                let access = HostPort(parsing: tmsAdmin ?? AdminConfig.defaultAddress.description).map {
                    APIServer.TrafficManagerAccess(admin: $0, tokenFile: TmsCommand.defaultTokenFile(global))
                }
                let certificate = tlsCertificate ?? global.settings.apiTLSCertificate
                let key = tlsKey ?? global.settings.apiTLSKey
                guard (certificate == nil) == (key == nil) else {
                    throw ValidationError("--tls-certificate and --tls-key go together (or apiTLSCertificate and apiTLSKey in the settings file)")
                }
                api = try APIServer(address: address, orchestrator: orchestrator, version: CVMCtl.version, logger: logger,
                                    trafficManager: access, tls: certificate.map { APIServer.TLSFiles(certificate: $0, key: key!) },
                                    policyRepository: elasticOptions.repo ?? global.settings.policyRepo)
            } catch let failure as APIServer.Failure {
                throw ValidationError(failure.description)
            }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
            let wakeUp = WakeUp()
            var monitor: HeartbeatMonitor?
            if !withoutMonitor, try await !ElasticCommand.Run.monitorRunning(orchestrator.store) {
                monitor = HeartbeatMonitor(orchestrator: orchestrator, wakeUp: wakeUp, logger: logger)
                services.append(.init(service: monitor!))
            }
            if elastic {
                // After the monitor: shut down before it, while it still watches the CVMs.
                let service = try await elasticOptions.service(orchestrator: orchestrator, global: global, logger: logger, once: false,
                                                               configurer: monitor?.configurer, wakeUp: wakeUp)
                services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                                      failureTerminationBehavior: .gracefullyShutdownGroup))
            }
            services.append(.init(service: api, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
            // Under systemd (Type=notify): ready once the API listens; the watchdog pinged
            // while the store answers.
            let store = orchestrator.store
            services.append(.init(service: SystemdNotifier(
                logger: logger, status: { "API on \(api.host):\(api.port)" }, isReady: { api.isRunning },
                isHealthy: { (try? await store.hosts()) != nil }), successTerminationBehavior: .ignore))
            logger.info("API listening", metadata: ["cvm.address": "\(api.host):\(api.port)", "cvm.scheme": "\(api.isTLS ? "https" : "http")"])
            // Elastic actions under way get elastic mode's time to finish.
            try await runServices(services, gracefulShutdown: elastic ? ElasticCommand.Run.gracefulShutdown : Self.gracefulShutdown,
                                  watchdog: elastic ? ElasticCommand.Run.watchdog : Self.watchdog, what: "the daemon", logger: logger)
        }
    }
}

/// `cvmctl token create|list|revoke`: the API's bearer tokens.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Make, list and revoke the HTTP API's bearer tokens.",
        discussion: """
            The store keeps a token's SHA-256 only: `create` prints the token once. Scope \
            `read` may only read (GET); `admin` may do everything.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it (once).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "What the token is for (shown by `token list`).") var name: String
        @Option(help: "read or admin.") var scope: String = "read"

        func validate() throws {
            guard APIToken.Scope(rawValue: scope) != nil else { throw ValidationError("--scope must be read or admin") }
            guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ !$0.isNewline && $0.asciiValue.map { $0 >= 0x20 } ?? true }) else {
                throw ValidationError("--name must have 1 to 64 printable characters")
            }
        }

        func run() async throws {
            try await reportingErrors {
                let made = try await global.orchestrator().store.createToken(name: name, scope: APIToken.Scope(rawValue: scope)!)
                if global.json {
                    let object: [String: String] = ["id": made.token.id, "name": made.token.name, "scope": made.token.scope.rawValue, "token": made.text]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    print(made.text)
                    writeAll("token \(made.token.id) (\(made.token.scope.rawValue)) made; it is shown only now\n", to: 2)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await reportingErrors {
                let tokens = try await global.orchestrator().store.tokens()
                let formatter = ISO8601DateFormatter()
                if global.json {
                    let rows: [[String: Any]] = tokens.map { token in
                        var row: [String: Any] = ["id": token.id, "name": token.name, "scope": token.scope.rawValue,
                                                  "createdAt": formatter.string(from: token.createdAt)]
                        if let revoked = token.revokedAt { row["revokedAt"] = formatter.string(from: revoked) }
                        if let used = token.lastUsedAt { row["lastUsedAt"] = formatter.string(from: used) }
                        return row
                    }
                    print(String(decoding: try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys]), as: UTF8.self))
                    return
                }
                print("ID        SCOPE  CREATED               STATE     NAME")
                for token in tokens {
                    let state = token.isRevoked ? "revoked" : "active"
                    print("\(token.id)  \(token.scope.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0))  \(formatter.string(from: token.createdAt))  \(state.padding(toLength: 8, withPad: " ", startingAt: 0))  \(token.name)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: requests with it get 401 at once.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's id (`token list`).") var id: String

        func run() async throws {
            try await reportingErrors {
                guard try await global.orchestrator().store.revokeToken(id: id) else {
                    throw ValidationError("no active token with id \(id) (see `cvmctl token list`)")
                }
                print("token \(id) revoked")
            }
        }
    }
}
