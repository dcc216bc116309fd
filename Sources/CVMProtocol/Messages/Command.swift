/// The typed view of a `CMD` message (host -> guest).
///
/// Wire fields: `id` (target CVM), `seq` (chosen by the host, must grow for every new
/// command to one CVM — across host restarts too, e.g. milliseconds since the epoch),
/// `op`; for `configure` also `role` and `peers` (comma-separated member names, may be empty).
public struct Command: Sendable, Equatable {
    public enum Operation: String, Sendable, CaseIterable {
        /// Send `BYE`, sync, power off.
        case stop
        /// Only acknowledge (liveness of the command path).
        case ping
        /// Take a role in the task's cluster and learn its members (promotion, membership).
        case configure
        /// Try a TCP connection (``ProbeTarget``) and report the ``ProbeResult`` in the ACK.
        case probe
        /// Run the data plane (image cvm-tms) with this configuration (field `config`, the
        /// traffic manager's YAML), or reload it with a new one.
        case serve
    }

    public var id: String
    public var seq: UInt64
    public var op: Operation
    /// For `configure`: the role to take (`single` when not given); nil for other operations.
    public var role: AgentConfig.Role?
    /// For `configure`: the other members of the cluster.
    public var peers: [String]
    /// For `probe`: where to connect (fields `target` and `via`).
    public var probe: ProbeTarget?
    /// For `serve`: the data plane's configuration.
    public var config: String?

    public init(id: String, seq: UInt64, op: Operation, role: AgentConfig.Role? = nil, peers: [String] = [],
                probe: ProbeTarget? = nil, config: String? = nil) {
        self.id = id
        self.seq = seq
        self.op = op
        self.role = op == .configure ? role ?? .single : nil
        self.peers = op == .configure ? peers : []
        self.probe = op == .probe ? probe : nil
        self.config = op == .serve ? config ?? "" : nil
    }

    /// Reads a `CMD` message. Does not check the MAC.
    /// - Throws: `WireError` naming the bad field.
    public init(_ message: WireMessage) throws {
        try message.requireKind(.command)
        guard let op = Operation(rawValue: try message.require("op")) else {
            throw WireError(.invalidField, key: "op", "expected stop, ping, configure, probe or serve")
        }
        var config: String?
        if op == .serve {
            config = try message.require("config")
            guard config?.isEmpty == false else { throw WireError(.invalidField, key: "config", "empty") }
        }
        var probe: ProbeTarget?
        if op == .probe {
            guard let route = ProbeTarget.Route(rawValue: try message.require("via")) else {
                throw WireError(.invalidField, key: "via", "expected link or gateway")
            }
            guard let target = ProbeTarget(try message.require("target"), route: route) else {
                throw WireError(.invalidField, key: "target", "expected an IPv4 address and port, like 10.77.0.1:22")
            }
            probe = target
        }
        var role: AgentConfig.Role?
        var peers: [String] = []
        if op == .configure {
            guard let value = AgentConfig.Role(rawValue: try message.require("role")) else {
                throw WireError(.invalidField, key: "role", "expected single, master or servant")
            }
            role = value
            let list = try message.require("peers")
            peers = list.isEmpty ? [] : list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard peers.allSatisfy({ AgentConfig.isValidName($0) }) else {
                throw WireError(.invalidField, key: "peers", "expected comma-separated member names")
            }
        }
        self.init(id: try message.require("id"), seq: try message.requireUInt64("seq"), op: op, role: role, peers: peers,
                  probe: probe, config: config)
    }

    /// The unsigned message.
    public var message: WireMessage {
        // Constant, valid keys: cannot throw.
        var fields: [WireMessage.Field] = [.init("id", id), .init("seq", String(seq)), .init("op", op.rawValue)]
        if op == .configure {
            fields.append(.init("role", role?.rawValue ?? AgentConfig.Role.single.rawValue))
            fields.append(.init("peers", peers.joined(separator: ",")))
        }
        if op == .serve { fields.append(.init("config", config ?? "")) }
        if op == .probe, let probe {
            fields.append(.init("target", probe.endpoint))
            fields.append(.init("via", probe.route.rawValue))
        }
        return try! WireMessage(kind: .command, fields: fields)
    }

    /// The signed line, newline included.
    public func render(signedWith secret: [UInt8]) -> [UInt8] {
        message.render(signedWith: secret)
    }
}
