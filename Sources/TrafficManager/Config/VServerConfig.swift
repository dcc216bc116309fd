/// One virtual server: a listening address (or none, for a vServer that only receives spilled
/// connections), its mode, how it balances, its services and its spillover.
public struct VServerConfig: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Bytes relayed as they are; the end of a full backup chain refuses (closes).
        case tcp
        /// Bytes relayed as they are; the end of a full backup chain answers `302 Found` with
        /// the redirect URL (`503` when there is none or every service refuses).
        case http
    }

    /// What an HTTP vServer routes and balances (mode `http` only).
    public enum Routing: String, Sendable, Hashable, CaseIterable {
        /// The whole client connection goes to one service; bytes are relayed as they are.
        case connection
        /// Each request is parsed, routed and balanced on its own: client connections stay
        /// open across requests, service connections are pooled per core and reused (never
        /// for a client connection's first request: HAProxy's `http-reuse safe`), requests get
        /// `X-Forwarded-For`, and the end of the chain answers per request.
        case request
    }

    /// What one use of the quota is, with `routing: request`.
    public enum QuotaCounts: String, Sendable, Hashable, CaseIterable {
        /// A client connection holds one use from its first request to its close.
        case connections
        /// A request holds one use from its head to its response's end.
        case requests
    }

    public enum Method: String, Sendable, Hashable, CaseIterable {
        /// Smooth weighted round robin.
        case roundrobin
        /// Fewest connections per weight (counted per core).
        case leastconn
    }

    public var name: String
    /// `nil`: the vServer listens nowhere and is only reached as a backup.
    public var bind: HostPort?
    public var mode: Mode
    public var routing: Routing = .connection
    public var quotaCounts: QuotaCounts = .connections
    public var method: Method
    public var services: [ServiceConfig]
    /// The monitor (by name) that checks every service; `nil`: services are always up.
    public var monitor: String?
    public var spillover: SpilloverConfig
    /// A connection with no bytes either way for this long is closed.
    public var idleTimeout: Duration
    /// Set (`routing: request` only): the idle timeout of a connection that became a tunnel
    /// (a WebSocket or other protocol switch), instead of `idleTimeout` (HAProxy's
    /// `timeout tunnel`): long-lived sockets may sit quiet longer than requests may.
    public var tunnelTimeout: Duration?
    /// How long connecting to one service may take before the next one is tried.
    public var connectTimeout: Duration
    /// The task name under which the usage monitors report this vServer's balancing
    /// (the name the orchestrator's policies use). Default `vserver/NAME`.
    public var task: String
    /// Set for a vServer offloaded to CVMs (image cvm-tms): `services` are then what each CVM's
    /// data plane forwards to, and the traffic manager's own services for this vServer are the
    /// CVMs of `cvm.task` that report serving (`cvmctl tms run` adds and removes them live).
    public var cvm: CVMBackend?
    /// Set: the listener speaks only mutual TLS (see ``TLSConfig``).
    public var tls: TLSConfig?
    /// Set: client -> service stickiness. A client's next connection goes to the service its
    /// last one went to while that service is up, until this long after the last one (a
    /// service that is down or refuses gives the client a new one). Shared by every core,
    /// and by several traffic managers through a session store (table `NAME/services`).
    public var stickiness: Duration?

    public init(name: String, bind: HostPort?, mode: Mode = .tcp, method: Method = .roundrobin,
                services: [ServiceConfig], monitor: String? = nil, spillover: SpilloverConfig = SpilloverConfig(),
                idleTimeout: Duration = .seconds(300), connectTimeout: Duration = .seconds(2), task: String? = nil) {
        self.name = name
        self.bind = bind
        self.mode = mode
        self.method = method
        self.services = services
        self.monitor = monitor
        self.spillover = spillover
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
        self.task = task ?? "vserver/\(name)"
    }
}

/// The CVMs that serve a vServer (see ``VServerConfig/cvm``).
public struct CVMBackend: Sendable, Hashable {
    /// The orchestrator's task whose CVMs serve it (they run image cvm-tms).
    public var task: String
    /// The port each CVM's data plane listens on, at its address on the CVM segment.
    public var port: Int
    /// Concurrent connections one CVM takes: its share of the vServer's dynamic limit.
    public var capacity: Int
    /// For CVMs on hosts of trust `public`: the first port of the traffic manager's return
    /// relays on its segment address (one per service, `returnPort + index`), through which
    /// those CVMs reach the services over mutual TLS. Default: `port`.
    public var returnPort: Int

    public init(task: String, port: Int, capacity: Int, returnPort: Int? = nil) {
        self.task = task
        self.port = port
        self.capacity = capacity
        self.returnPort = returnPort ?? port
    }
}

/// A backend a vServer balances over.
public struct ServiceConfig: Sendable, Hashable {
    public var name: String
    public var address: HostPort
    /// Concurrent connections the service takes: its share of a dynamic limit.
    public var capacity: Int
    /// Relative share of new connections (1...1000).
    public var weight: Int
    /// Set: connections to the service are mutual TLS (see ``TLSConfig``).
    public var tls: TLSConfig?
    /// The state a monitored service starts in (a monitor then judges it). `up: false` in
    /// the file; used to hand monitoring over without a flip.
    public var initiallyUp = true

    public init(name: String, address: HostPort, capacity: Int, weight: Int = 1, tls: TLSConfig? = nil) {
        self.name = name
        self.address = address
        self.capacity = capacity
        self.weight = weight
        self.tls = tls
    }
}
