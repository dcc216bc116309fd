/// The traffic manager's configuration: what `cvmctl tms run --config FILE` reads
/// (documented key by key in `docs/tms.sample.yaml`). A `Sendable` value with defaults;
/// precedence: command line > file > default.
public struct TMSConfig: Sendable, Hashable {
    /// Event loops (one per core); `nil`: as many as the machine has cores.
    public var cores: Int?
    public var admin: AdminConfig
    /// How long shutdown (and a reload that removes a vServer) waits for live connections to
    /// finish before closing them.
    public var drainTimeout: Duration
    public var usage: UsageConfig
    public var monitors: [MonitorConfig]
    public var vServers: [VServerConfig]
    /// Where the monitors' verdicts go to or come from when monitoring is offloaded.
    public var monitoring = MonitoringConfig()
    /// The access log: local file, spool and shipping, or this process as a log collector.
    public var accessLog = AccessLogConfig()
    /// Persistence pins shared through a session-store cluster, or this process as a member.
    public var sessionStore = SessionStoreConfig()

    public init(cores: Int? = nil, admin: AdminConfig = AdminConfig(), drainTimeout: Duration = .seconds(30),
                usage: UsageConfig = UsageConfig(), monitors: [MonitorConfig] = [], vServers: [VServerConfig] = []) {
        self.cores = cores
        self.admin = admin
        self.drainTimeout = drainTimeout
        self.usage = usage
        self.monitors = monitors
        self.vServers = vServers
    }

    public func vServer(named name: String) -> VServerConfig? { vServers.first { $0.name == name } }
    public func monitor(named name: String) -> MonitorConfig? { monitors.first { $0.name == name } }
}

/// The admin endpoint (`/usage`, `/metrics`, `/reload`, `/status`). Loopback only, and every
/// request must carry `Authorization: Bearer <token>` with the token of `tokenFile`.
public struct AdminConfig: Sendable, Hashable {
    public static let defaultAddress = HostPort(host: "127.0.0.1", port: 9901)
    /// The token file's name in the state directory when neither the command line nor the
    /// configuration file names one (`cvmctl` fills it in).
    public static let defaultTokenFileName = "tms-admin.token"
    /// `nil`: no admin endpoint.
    public var address: HostPort?
    /// The file holding the admin token (created with mode 0600 when missing). Required when
    /// `address` is set: `start()` refuses to serve the admin endpoint without a token.
    public var tokenFile: String?
    /// Scoped tokens (``AdminTokens``: read or admin, stored hashed, revocable) accepted
    /// beside the admin token; `cvmctl tms token create` writes them.
    public var tokensFile: String?
    /// The tokens file's name in the state directory when nothing names one.
    public static let defaultTokensFileName = "tms-admin.tokens"

    public init(address: HostPort? = AdminConfig.defaultAddress, tokenFile: String? = nil, tokensFile: String? = nil) {
        self.address = address
        self.tokenFile = tokenFile
        self.tokensFile = tokensFile
    }
}

/// How task usage is sampled and forecast (SPEC §1.3).
public struct UsageConfig: Sendable, Hashable {
    /// Time between two samples of every task's counters.
    public var interval: Duration
    /// Samples kept per task and resource (the window of the patterns).
    public var window: Int
    /// How far ahead the anticipated usage looks.
    public var horizon: Duration
    /// Holt smoothing factors for the forecast (level, trend), in (0, 1].
    public var alpha: Double
    public var beta: Double

    public init(interval: Duration = .seconds(1), window: Int = 60, horizon: Duration = .seconds(30),
                alpha: Double = 0.5, beta: Double = 0.3) {
        self.interval = interval
        self.window = window
        self.horizon = horizon
        self.alpha = alpha
        self.beta = beta
    }
}

/// Offloaded health monitoring (task `health-monitor`). A traffic manager that runs the
/// monitors for another one (in a CVM) **publishes** their states on a stream; the one that
/// offloaded them **follows** that stream and applies each service's state as its own monitors
/// would (up/down, so the dynamic limit follows; response-time average), with its own monitors
/// paused. If the stream ends or stays silent for ``silenceLimit``, its own monitors resume at
/// once from the last states received: no service flips because of the switch.
public struct MonitoringConfig: Sendable, Hashable {
    public var publish: HostPort?
    /// TLS of the publishing listener (mutual: a follower needs a certificate of its CA).
    public var publishTLS: TLSConfig?
    public var follow: HostPort?
    /// TLS to the publisher (its certificate must name the address followed).
    public var followTLS: TLSConfig?
    /// Offload the monitors to a CVM of this task (image cvm-tms), whose data plane publishes
    /// on this port: `cvmctl tms run` serves it the monitors and follows it.
    public var cvm: CVMMonitoring?

    public struct CVMMonitoring: Sendable, Hashable {
        public var task: String
        public var port: Int
        /// For a monitoring CVM on a host of trust `public`: the first port of the probe relays
        /// (see ``TMSConfig/withMonitoringRelays(gateway:tls:)``); default `port`.
        public var returnPort: Int
        public init(task: String, port: Int, returnPort: Int? = nil) {
            self.task = task
            self.port = port
            self.returnPort = returnPort ?? port
        }
    }

    /// A publisher sends every state at least this often.
    public static let snapshotInterval = Duration.milliseconds(500)
    /// A follower that hears no full snapshot for this long resumes its own monitors.
    public static let silenceLimit = Duration.milliseconds(1500)

    public init(publish: HostPort? = nil, publishTLS: TLSConfig? = nil, follow: HostPort? = nil, followTLS: TLSConfig? = nil) {
        self.publish = publish
        self.publishTLS = publishTLS
        self.follow = follow
        self.followTLS = followTLS
    }
}

/// The access log (one record per client connection, see ``AccessLogRecord``) and its
/// offloading to a log collector (task `log-collector`).
///
/// - `file`: written locally, one line per record, rotated at `rotateBytes` keeping `keep` old
///   files (`FILE.1` newest).
/// - `spool` + `ship`: every record gets a sequence number and goes to a bounded on-disk spool;
///   the shipper streams it to the collector at `ship` and a record leaves the spool only once
///   the collector acknowledged it (it is then kept as history, for a replacement collector,
///   while space allows). A full spool says so in the metrics and the log, and drops the
///   oldest records only with `dropOldest`, else the new ones.
/// - `cvm`: `cvmctl tms run` serves the first running CVM of this task a collector
///   configuration and sets `ship` to it.
/// - `collector`: this process is a collector: it listens for shippers and queries and keeps
///   the records in a ``SegmentStore`` on `device` from `offset`.
public struct AccessLogConfig: Sendable, Hashable {
    public var file: String?
    public var rotateBytes = 64 << 20
    public var keep = 5
    public var spool: Spool?
    public var ship: HostPort?
    public var shipTLS: TLSConfig?
    public var cvm: CVMLogCollector?
    public var collector: Collector?

    public struct Spool: Sendable, Hashable {
        public var directory: String
        public var maxBytes: Int
        public var dropOldest: Bool
        public init(directory: String, maxBytes: Int = 16 << 20, dropOldest: Bool = false) {
            self.directory = directory
            self.maxBytes = maxBytes
            self.dropOldest = dropOldest
        }
    }

    public struct CVMLogCollector: Sendable, Hashable {
        public var task: String
        public var port: Int
        /// What the collector CVM keeps (passed on in its configuration).
        public var maxBytes: Int?
        public var maxAge: Duration?
        public init(task: String, port: Int, maxBytes: Int? = nil, maxAge: Duration? = nil) {
            self.task = task
            self.port = port
            self.maxBytes = maxBytes
            self.maxAge = maxAge
        }
    }

    public struct Collector: Sendable, Hashable {
        public var listen: HostPort
        public var tls: TLSConfig?
        public var device: String
        public var offset: Int
        public var maxBytes: Int?
        public var maxAge: Duration?
        public init(listen: HostPort, tls: TLSConfig? = nil, device: String, offset: Int = 0,
                    maxBytes: Int? = nil, maxAge: Duration? = nil) {
            self.listen = listen
            self.tls = tls
            self.device = device
            self.offset = offset
            self.maxBytes = maxBytes
            self.maxAge = maxAge
        }
    }

    public init() {}

    /// Whether the data plane makes records at all.
    public var recordsConnections: Bool { file != nil || spool != nil }
}

/// The spillover persistence pins shared through a session-store cluster (task
/// `session-store`, see ``SessionStoreServer``).
///
/// - `connect`: the cluster's master; this traffic manager subscribes to every pin (its local
///   tables are a copy, so routing never waits for the network) and writes the pins it makes.
///   When the master is gone, the local tables go on alone; on reconnecting (to the promoted
///   servant) the pins made meanwhile are written.
/// - `cvm`: `cvmctl tms run` serves each member of this cluster its role and connects to the
///   master; with `minReplicas`, the master refuses writes while fewer servants are in sync, and
///   a cluster with fewer servants is refused at start.
/// - `server`: this process is a member (master, or servant of `replicaOf`).
public struct SessionStoreConfig: Sendable, Hashable {
    public var connect: HostPort?
    public var tls: TLSConfig?
    public var cvm: CVMSessionStore?
    public var server: Server?

    public struct CVMSessionStore: Sendable, Hashable {
        public var cluster: String
        public var port: Int
        public var minReplicas: Int
        public init(cluster: String, port: Int, minReplicas: Int = 0) {
            self.cluster = cluster
            self.port = port
            self.minReplicas = minReplicas
        }
    }

    public struct Server: Sendable, Hashable {
        public var listen: HostPort
        public var tls: TLSConfig?
        public var replicaOf: HostPort?
        public var minReplicas: Int
        public init(listen: HostPort, tls: TLSConfig? = nil, replicaOf: HostPort? = nil, minReplicas: Int = 0) {
            self.listen = listen
            self.tls = tls
            self.replicaOf = replicaOf
            self.minReplicas = minReplicas
        }
    }

    public init() {}
}
