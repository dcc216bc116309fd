import ConfigFile
import Foundation
import TMSCore

extension TMSConfig {
    /// Reads and validates a configuration file (a file larger than 1 MiB is refused unread).
    /// Blocking file I/O: never call it on an event loop.
    /// - Throws: `ConfigError` naming file, line, column and key.
    public static func load(file: String) throws(ConfigError) -> TMSConfig {
        try parse(YAMLText.read(file: file), file: file)
    }

    /// Parses and validates configuration text (`file` names it in errors). Text larger than
    /// 1 MiB or nested more than 64 levels deep is refused before it is parsed.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> TMSConfig {
        let root = try YAMLReader.parse(text, file: file)
        try root.expectOnly(["cores", "admin", "drainTimeout", "usage", "monitors", "vServers", "monitoring", "accessLog", "sessionStore"])
        var config = TMSConfig()
        config.cores = try root.optionalInt("cores", in: 1...1024)
        if root.has("admin") { config.admin = try AdminConfig(root.submapping("admin")) }
        // Relative to the configuration file, wherever the process was started.
        if let token = config.admin.tokenFile, !token.hasPrefix("/") {
            config.admin.tokenFile = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(token)
        }
        if let tokens = config.admin.tokensFile, !tokens.hasPrefix("/") {
            config.admin.tokensFile = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(tokens)
        }
        config.drainTimeout = try root.optionalDuration("drainTimeout", in: .zero ... .seconds(3600)) ?? config.drainTimeout
        if root.has("usage") { config.usage = try UsageConfig(root.submapping("usage")) }
        if root.has("monitoring") { config.monitoring = try MonitoringConfig(root.submapping("monitoring")) }
        if root.has("accessLog") { config.accessLog = try AccessLogConfig(root.submapping("accessLog")) }
        if root.has("sessionStore") { config.sessionStore = try SessionStoreConfig(root.submapping("sessionStore")) }
        // The monitors are, by default, the task the monitoring CVM takes over (the policy's).
        let monitorTask = config.monitoring.cvm?.task ?? "health-monitor"
        config.monitors = try root.optionalMappings("monitors").map { (reader) throws(ConfigError) in
            try MonitorConfig(reader, defaultTask: monitorTask)
        }
        let vServerReaders = try root.optionalMappings("vServers")
        // A log collector may do nothing else.
        guard !vServerReaders.isEmpty || config.accessLog.collector != nil || config.sessionStore.server != nil else { throw root.error("vServers", "at least one vServer is required") }
        config.vServers = try vServerReaders.map { (reader) throws(ConfigError) in try VServerConfig(reader) }
        try config.validate(root: root, vServerReaders: vServerReaders)
        return config
    }

    /// Checks that need the whole file: unique names, references, backup chains, binds.
    private func validate(root: YAMLReader, vServerReaders: [YAMLReader]) throws(ConfigError) {
        var monitorNames: Set<String> = []
        for (index, monitor) in monitors.enumerated() where !monitorNames.insert(monitor.name).inserted {
            throw try root.optionalMappings("monitors")[index].error("name", "monitor \(monitor.name) is defined twice")
        }
        var names: Set<String> = []
        var binds: [HostPort: String] = [:]
        for (vServer, reader) in zip(vServers, vServerReaders) {
            guard names.insert(vServer.name).inserted else { throw reader.error("name", "vServer \(vServer.name) is defined twice") }
            if let bind = vServer.bind, bind.port != 0 {
                if let other = binds.updateValue(vServer.name, forKey: bind) {
                    throw reader.error("bind", "\(bind) is already the address of vServer \(other)")
                }
            }
            if let monitor = vServer.monitor, !monitorNames.contains(monitor) {
                throw reader.error("monitor", "no monitor named \(monitor) (defined: \(monitorNames.sorted().joined(separator: ", ")))")
            }
        }
        for (vServer, reader) in zip(vServers, vServerReaders) {
            guard let backup = vServer.spillover.backup else { continue }
            let spill = try reader.submapping("spillover")
            guard let target = self.vServer(named: backup) else {
                throw spill.error("backup", "no vServer named \(backup)")
            }
            if target.mode != vServer.mode {
                throw spill.error("backup", "backup \(backup) is a \(target.mode) vServer; \(vServer.name) is \(vServer.mode)")
            }
            if target.routing != vServer.routing {
                throw spill.error("backup", "backup \(backup) routes per \(target.routing); \(vServer.name) per \(vServer.routing): a chain routes one way")
            }
        }
        do {
            _ = try backupChain()
        } catch {
            throw root.error("vServers", error.description)
        }
    }

    /// The backup topology of the vServers (validated: backups exist, no cycles).
    public func backupChain() throws(BackupChainError) -> BackupChain {
        try BackupChain(vServers.map { vServer in
            BackupChain.Entry(VServerID(vServer.name), backup: vServer.spillover.backup.map { VServerID($0) },
                              endAction: vServer.spillover.redirect.map { .redirect(url: $0) } ?? .refuse)
        })
    }
}

extension AdminConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["address", "enabled", "tokenFile", "tokensFile"])
        self.init()
        if let file = try reader.optionalString("tokenFile") {
            guard !file.isEmpty else { throw reader.error("tokenFile", "expected a file path", at: reader.value("tokenFile")) }
            tokenFile = file
        }
        tokensFile = try reader.optionalString("tokensFile")
        if reader.has("enabled"), try !reader.bool("enabled") {
            address = nil
            return
        }
        if let text = try reader.optionalString("address") {
            guard let address = HostPort(parsing: text) else {
                throw reader.error("address", "expected HOST:PORT with an IP address, found '\(text)'", at: reader.value("address"))
            }
            guard address.isLoopback else {
                throw reader.error("address", "the admin endpoint must listen on loopback (127.0.0.0/8 or ::1)", at: reader.value("address"))
            }
            self.address = address
        }
    }
}

extension UsageConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["interval", "window", "horizon", "alpha", "beta"])
        self.init()
        interval = try reader.optionalDuration("interval", in: .milliseconds(10) ... .seconds(3600)) ?? interval
        window = try reader.optionalInt("window", in: 2...100_000) ?? window
        horizon = try reader.optionalDuration("horizon", in: .zero ... .seconds(86_400)) ?? horizon
        alpha = try reader.optionalFraction("alpha") ?? alpha
        beta = try reader.optionalFraction("beta") ?? beta
    }
}

extension YAMLReader {
    /// A number in (0, 1].
    func optionalFraction(_ key: String) throws(ConfigError) -> Double? {
        guard let node = value(key) else { return nil }
        guard let text = node.scalar?.string, let value = Double(text), value > 0, value <= 1 else {
            throw error(key, "expected a number in (0, 1]", at: node)
        }
        return value
    }
}

extension MonitorConfig {
    /// `defaultTask`: the task a monitor without `task` is reported under.
    init(_ reader: YAMLReader, defaultTask: String) throws(ConfigError) {
        try reader.expectOnly(["name", "kind", "interval", "timeout", "rise", "fall", "path", "expect",
                               "responseTimeLimit", "deviation", "averageSpan", "task"])
        let name = try reader.string("name")
        self.init(name: name)
        let kind = try reader.has("kind") ? reader.choice("kind", KindName.self) : .tcp
        switch kind {
        case .tcp:
            for key in ["path", "expect"] where reader.has(key) {
                throw reader.error(key, "only for kind: http")
            }
            self.kind = .tcp
        case .http:
            let path = try reader.optionalString("path") ?? "/"
            guard path.hasPrefix("/"), !path.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                throw reader.error("path", "expected an absolute path without spaces", at: reader.value("path"))
            }
            var expect = 200...399
            if let text = try reader.optionalString("expect") {
                guard let range = Self.statusRange(text) else {
                    throw reader.error("expect", "expected a status (200) or a range (200-399)", at: reader.value("expect"))
                }
                expect = range
            }
            self.kind = .http(path: path, expect: expect)
        }
        interval = try reader.optionalDuration("interval", in: .milliseconds(10) ... .seconds(3600)) ?? interval
        timeout = try reader.optionalDuration("timeout", in: .milliseconds(1) ... .seconds(3600)) ?? timeout
        rise = try reader.optionalInt("rise", in: 1...100) ?? rise
        fall = try reader.optionalInt("fall", in: 1...100) ?? fall
        responseTimeLimit = try reader.optionalDuration("responseTimeLimit", in: .milliseconds(1) ... .seconds(3600))
        if let node = reader.value("deviation") {
            guard let text = node.scalar?.string, let percent = Int(text.hasSuffix("%") ? String(text.dropLast()) : text),
                  (1...100_000).contains(percent) else {
                throw reader.error("deviation", "expected a percentage above the running average, such as 200%", at: node)
            }
            deviationPercent = percent
        }
        averageSpan = try reader.optionalInt("averageSpan", in: 1...10_000) ?? averageSpan
        task = try reader.optionalString("task") ?? defaultTask
    }

    enum KindName: String, CaseIterable { case tcp, http }

    static func statusRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count),
              let low = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let high = Int(parts[parts.count - 1].trimmingCharacters(in: .whitespaces)),
              (100...599).contains(low), (100...599).contains(high), low <= high else { return nil }
        return low...high
    }
}

extension VServerConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["name", "bind", "mode", "method", "services", "monitor", "spillover",
                               "idleTimeout", "tunnelTimeout", "connectTimeout", "task", "cvm", "tls", "stickiness", "routing",
                               "quotaCounts"])
        let name = try reader.string("name")
        guard !name.contains(where: { $0 == "/" || $0.isWhitespace || $0 == "\"" }) else {
            throw reader.error("name", "a vServer name may not contain '/', quotes or spaces")
        }
        var bind: HostPort?
        if let text = try reader.optionalString("bind") {
            guard let address = HostPort(parsing: text) else {
                throw reader.error("bind", "expected HOST:PORT with an IP address, found '\(text)'", at: reader.value("bind"))
            }
            bind = address
        }
        let serviceReaders = try reader.optionalMappings("services")
        guard !serviceReaders.isEmpty else { throw reader.error("services", "at least one service is required") }
        var services: [ServiceConfig] = []
        for serviceReader in serviceReaders {
            let service = try ServiceConfig(serviceReader)
            if services.contains(where: { $0.name == service.name }) {
                throw serviceReader.error("name", "service \(service.name) is listed twice in vServer \(name)")
            }
            services.append(service)
        }
        self.init(name: name, bind: bind, services: services)
        if reader.has("mode") { mode = try reader.choice("mode", Mode.self) }
        if reader.has("method") { method = try reader.choice("method", Method.self) }
        if reader.has("routing") {
            routing = try reader.choice("routing", Routing.self)
            guard mode == .http || routing == .connection else {
                throw reader.error("routing", "routing: request needs mode: http (a TCP vServer routes connections)")
            }
        }
        if reader.has("quotaCounts") {
            quotaCounts = try reader.choice("quotaCounts", QuotaCounts.self)
            guard routing == .request || quotaCounts == .connections else {
                throw reader.error("quotaCounts", "quotaCounts: requests needs routing: request")
            }
        }
        monitor = try reader.optionalString("monitor")
        idleTimeout = try reader.optionalDuration("idleTimeout", in: .milliseconds(10) ... .seconds(86_400)) ?? idleTimeout
        tunnelTimeout = try reader.optionalDuration("tunnelTimeout", in: .milliseconds(10) ... .seconds(604_800))
        if tunnelTimeout != nil && routing != .request {
            throw reader.error("tunnelTimeout", "tunnelTimeout is for the WebSocket tunnels of routing: request")
        }
        connectTimeout = try reader.optionalDuration("connectTimeout", in: .milliseconds(1) ... .seconds(600)) ?? connectTimeout
        task = try reader.optionalString("task") ?? task
        stickiness = try reader.optionalDuration("stickiness", in: .seconds(1) ... .seconds(86_400))
        if reader.has("spillover") {
            spillover = try SpilloverConfig(reader.submapping("spillover"), mode: mode)
        }
        if services.count > 64 {
            throw reader.error("services", "at most 64 services per vServer")
        }
        if reader.has("tls") { tls = try TLSConfig(reader.submapping("tls")) }
        if reader.has("cvm") {
            let cvm = try reader.submapping("cvm")
            try cvm.expectOnly(["task", "port", "capacity", "returnPort"])
            let task = try cvm.string("task")
            guard !task.isEmpty, task.utf8.count <= 64,
                  task.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw cvm.error("task", "expected a task name of letters, digits, '-' and '_'")
            }
            self.cvm = CVMBackend(task: task, port: try cvm.int("port", in: 1...65_535),
                                  capacity: try cvm.int("capacity", in: 1...10_000_000),
                                  returnPort: try cvm.optionalInt("returnPort", in: 1...65_535))
            if let cvm = self.cvm, cvm.returnPort + services.count - 1 > 65_535 {
                throw reader.error("cvm", "returnPort \(cvm.returnPort) + \(services.count) services passes port 65535")
            }
        }
    }
}

extension ServiceConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["name", "address", "port", "capacity", "weight", "tls", "up"])
        let addressText = try reader.string("address")
        var address: HostPort
        if let port = try reader.optionalInt("port", in: 1...65_535) {
            guard let parsed = HostPort(parsing: addressText.contains(":") && !addressText.hasPrefix("[")
                                        ? "[\(addressText)]:\(port)" : "\(addressText):\(port)") else {
                throw reader.error("address", "expected an IP address, found '\(addressText)'", at: reader.value("address"))
            }
            address = parsed
        } else {
            guard let parsed = HostPort(parsing: addressText), parsed.port != 0 else {
                throw reader.error("port", "required key is missing (or give address as HOST:PORT)")
            }
            address = parsed
        }
        let name = try reader.optionalString("name") ?? address.description
        self.init(name: name, address: address, capacity: try reader.int("capacity", in: 0...10_000_000),
                  weight: try reader.optionalInt("weight", in: 1...1_000) ?? 1,
                  tls: reader.has("tls") ? try TLSConfig(reader.submapping("tls")) : nil)
        initiallyUp = reader.has("up") ? try reader.bool("up") : true
    }
}

extension MonitoringConfig {
    /// `{ publish: HOST:PORT, publishTLS: {...}, follow: HOST:PORT, followTLS: {...} }`.
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["publish", "publishTLS", "follow", "followTLS", "cvm"])
        self.init()
        if reader.has("cvm") {
            let cvm = try reader.submapping("cvm")
            try cvm.expectOnly(["task", "port", "returnPort"])
            let task = try cvm.string("task")
            guard !task.isEmpty, task.utf8.count <= 64,
                  task.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw cvm.error("task", "expected a task name of letters, digits, '-' and '_'")
            }
            self.cvm = CVMMonitoring(task: task, port: try cvm.int("port", in: 1...65_535),
                                     returnPort: try cvm.optionalInt("returnPort", in: 1...65_535))
        }
        for key in ["publish", "follow"] {
            guard let text = try reader.optionalString(key) else { continue }
            guard let address = HostPort(parsing: text), address.port != 0 || key == "publish" else {
                throw reader.error(key, "expected HOST:PORT with an IP address, found '\(text)'", at: reader.value(key))
            }
            if key == "publish" { publish = address } else { follow = address }
        }
        if reader.has("publishTLS") { publishTLS = try TLSConfig(reader.submapping("publishTLS")) }
        if reader.has("followTLS") { followTLS = try TLSConfig(reader.submapping("followTLS")) }
        if publish != nil && follow != nil {
            throw reader.error("follow", "a traffic manager either publishes its monitors' states or follows another's, not both")
        }
    }
}

extension AccessLogConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["file", "rotateBytes", "keep", "spool", "ship", "shipTLS", "cvm", "collector"])
        self.init()
        file = try reader.optionalAbsolutePath("file")
        rotateBytes = try reader.optionalInt("rotateBytes", in: 4096...(1 << 40)) ?? rotateBytes
        keep = try reader.optionalInt("keep", in: 1...1000) ?? keep
        if reader.has("spool") {
            let spool = try reader.submapping("spool")
            try spool.expectOnly(["dir", "maxBytes", "dropOldest"])
            guard let directory = try spool.optionalAbsolutePath("dir") else { throw spool.error("dir", "the spool needs a directory (dir: /absolute/path)") }
            self.spool = Spool(directory: directory, maxBytes: try spool.optionalInt("maxBytes", in: (64 << 10)...(1 << 40)) ?? 16 << 20,
                               dropOldest: spool.has("dropOldest") ? try spool.bool("dropOldest") : false)
        }
        if let text = try reader.optionalString("ship") {
            guard let address = HostPort(parsing: text), address.port != 0 else {
                throw reader.error("ship", "expected HOST:PORT with an IP address, found '\(text)'", at: reader.value("ship"))
            }
            ship = address
        }
        if reader.has("shipTLS") { shipTLS = try TLSConfig(reader.submapping("shipTLS")) }
        if reader.has("cvm") {
            let cvm = try reader.submapping("cvm")
            try cvm.expectOnly(["task", "port", "maxBytes", "maxAge"])
            let task = try cvm.string("task")
            guard !task.isEmpty, task.utf8.count <= 64,
                  task.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw cvm.error("task", "expected a task name of letters, digits, '-' and '_'")
            }
            self.cvm = CVMLogCollector(task: task, port: try cvm.int("port", in: 1...65_535),
                                       maxBytes: try cvm.optionalInt("maxBytes", in: (2 << 20)...(1 << 40)),
                                       maxAge: try cvm.optionalDuration("maxAge", in: .seconds(1) ... .seconds(10 * 365 * 86_400)))
        }
        if reader.has("collector") {
            let collector = try reader.submapping("collector")
            try collector.expectOnly(["listen", "tls", "device", "offset", "maxBytes", "maxAge"])
            let text = try collector.string("listen")
            guard let listen = HostPort(parsing: text) else {
                throw collector.error("listen", "expected HOST:PORT with an IP address, found '\(text)'", at: collector.value("listen"))
            }
            guard let device = try collector.optionalAbsolutePath("device") else { throw collector.error("device", "the collector needs a disk or file (device: /absolute/path)") }
            self.collector = Collector(listen: listen, tls: collector.has("tls") ? try TLSConfig(collector.submapping("tls")) : nil,
                                       device: device, offset: try collector.optionalInt("offset", in: 0...(1 << 40)) ?? 0,
                                       maxBytes: try collector.optionalInt("maxBytes", in: (2 << 20)...(1 << 40)),
                                       maxAge: try collector.optionalDuration("maxAge", in: .seconds(1) ... .seconds(10 * 365 * 86_400)))
        }
        if (spool == nil) != (ship == nil && cvm == nil) {
            throw reader.error(spool == nil ? "spool" : "ship", spool == nil
                ? "shipping records (ship or cvm) needs a spool (spool: { dir: /absolute/path })"
                : "a spool is only used when records are shipped (ship or cvm)")
        }
    }
}

extension SessionStoreConfig {
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["connect", "tls", "cvm", "server"])
        self.init()
        connect = try reader.optionalAddress("connect")
        if reader.has("tls") { tls = try TLSConfig(reader.submapping("tls")) }
        if reader.has("cvm") {
            let cvm = try reader.submapping("cvm")
            try cvm.expectOnly(["cluster", "port", "minReplicas"])
            let cluster = try cvm.string("cluster")
            guard !cluster.isEmpty, cluster.utf8.count <= 36,
                  cluster.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
                throw cvm.error("cluster", "expected a cluster name of a-z, 0-9 and '-'")
            }
            self.cvm = CVMSessionStore(cluster: cluster, port: try cvm.int("port", in: 1...65_535),
                                       minReplicas: try cvm.optionalInt("minReplicas", in: 0...31) ?? 0)
        }
        if reader.has("server") {
            let server = try reader.submapping("server")
            try server.expectOnly(["listen", "tls", "replicaOf", "minReplicas"])
            guard let listen = try server.optionalAddress("listen", allowPortZero: true) else { throw server.error("listen", "a session-store member needs listen: HOST:PORT") }
            self.server = Server(listen: listen, tls: server.has("tls") ? try TLSConfig(server.submapping("tls")) : nil,
                                 replicaOf: try server.optionalAddress("replicaOf"),
                                 minReplicas: try server.optionalInt("minReplicas", in: 0...31) ?? 0)
        }
        if connect != nil && cvm != nil {
            throw reader.error("connect", "either connect to a session store or let cvmctl tms run find its cluster (cvm), not both")
        }
    }
}

extension YAMLReader {
    func optionalAddress(_ key: String, allowPortZero: Bool = false) throws(ConfigError) -> HostPort? {
        guard let text = try optionalString(key) else { return nil }
        guard let address = HostPort(parsing: text), address.port != 0 || allowPortZero else {
            throw error(key, "expected HOST:PORT with an IP address, found '\(text.prefix(80))'", at: value(key))
        }
        return address
    }

    func optionalAbsolutePath(_ key: String) throws(ConfigError) -> String? {
        guard let path = try optionalString(key) else { return nil }
        guard path.hasPrefix("/"), path.utf8.count <= 4096, !path.contains("\0") else {
            throw error(key, "expected an absolute path, found '\(path.prefix(80))'", at: value(key))
        }
        return path
    }
}

extension TLSConfig {
    /// `{ certificate: PATH, key: PATH, ca: PATH }`, absolute paths to PEM files, each checked
    /// here (readable, at most 64 KiB, PEM) so a wrong path is one line naming the key.
    init(_ reader: YAMLReader) throws(ConfigError) {
        try reader.expectOnly(["certificate", "key", "ca"])
        var paths: [String] = []
        for key in ["certificate", "key", "ca"] {
            let path = try reader.string(key)
            guard path.hasPrefix("/") else {
                throw reader.error(key, "expected an absolute path to a PEM file, found '\(path)'", at: reader.value(key))
            }
            if let problem = Self.problem(reading: path) {
                throw reader.error(key, "\(path): \(problem)", at: reader.value(key))
            }
            paths.append(path)
        }
        self.init(certificate: paths[0], key: paths[1], ca: paths[2])
    }

    /// Why the PEM file at `path` is unusable, or nil.
    static func problem(reading path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "cannot be read" }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 65_537) else { return "cannot be read" }
        guard data.count <= 65_536 else { return "larger than 64 KiB: not a PEM certificate or key" }
        guard String(decoding: data, as: UTF8.self).contains("-----BEGIN ") else { return "not a PEM file (no -----BEGIN line)" }
        return nil
    }
}

extension SpilloverConfig {
    init(_ reader: YAMLReader, mode: VServerConfig.Mode) throws(ConfigError) {
        try reader.expectOnly(["kind", "limit", "bytesPerSecond", "bandwidthInterval", "exclusivePercent",
                               "batchPercent", "t1", "t2", "backup", "redirect", "persistence", "queue"])
        self.init()
        if reader.has("kind") { kind = try reader.choice("kind", Kind.self) }
        switch kind {
        case .connection:
            limit = try reader.int("limit", in: 0...VServerQuota.maximumLimit)
        case .dynamic, .bandwidth:
            if reader.has("limit") {
                throw reader.error("limit", "only for kind: connection (a \(kind) limit is the sum of the capacities of the services up)")
            }
        }
        if kind == .bandwidth {
            bytesPerSecond = try reader.int("bytesPerSecond", in: 0...(1 << 40))
            bandwidthInterval = try reader.optionalDuration("bandwidthInterval", in: .milliseconds(1) ... .seconds(60)) ?? bandwidthInterval
        } else {
            for key in ["bytesPerSecond", "bandwidthInterval"] where reader.has(key) {
                throw reader.error(key, "only for kind: bandwidth")
            }
        }
        if reader.has("exclusivePercent") { exclusivePercent = try reader.percentage("exclusivePercent") }
        if reader.has("batchPercent") { batchPercent = try reader.percentage("batchPercent") }
        if reader.has("t1") { t1 = try reader.threshold("t1") }
        if reader.has("t2") { t2 = try reader.threshold("t2") }
        backup = try reader.optionalString("backup")
        if let url = try reader.optionalString("redirect") {
            guard mode == .http else { throw reader.error("redirect", "only HTTP vServers redirect (TCP ones refuse)") }
            guard url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix("/"),
                  !url.contains(where: { $0 == "\r" || $0 == "\n" || $0 == " " }) else {
                throw reader.error("redirect", "expected an http(s):// URL or an absolute path without spaces", at: reader.value("redirect"))
            }
            redirect = url
        }
        persistence = try reader.optionalDuration("persistence", in: .zero ... .seconds(86_400))
        if reader.has("queue") {
            let queueReader = try reader.submapping("queue")
            try queueReader.expectOnly(["size", "timeout"])
            queue = QueueConfig(size: try queueReader.int("size", in: 1...1_000_000),
                                timeout: try queueReader.duration("timeout", in: .milliseconds(1) ... .seconds(3600)))
        }
        if persistence != nil && backup == nil {
            throw reader.error("persistence", "persistence needs a backup")
        }
    }
}
