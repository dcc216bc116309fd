import Foundation

/// What `cvmctl cluster create` asks for.
public struct ClusterRequest: Sendable, Equatable {
    public var name: String
    public var image: String
    public var task: String?
    public var size: Int
    /// The hosts the members spread over (at least one).
    public var hosts: [String]
    public var timeout: Duration?

    public init(name: String, image: String, task: String? = nil, size: Int,
                hosts: [String] = [CVMOrchestrator.localHostName], timeout: Duration? = nil) {
        self.name = name
        self.image = image
        self.task = task
        self.size = size
        self.hosts = hosts
        self.timeout = timeout
    }
}

/// What a heal did: the servant promoted (if the master was lost), the lost members replaced,
/// the agents told their role and peers (and those that could not be reached).
public struct ClusterHealResult: Sendable, Codable, Equatable {
    public var cluster: String
    public var promoted: String?
    public var replaced: [Replacement]
    public var added: [String]
    public var configured: [String]
    public var unreachable: [String]

    public struct Replacement: Sendable, Codable, Equatable {
        public var lost: String
        public var replacement: String
        public var host: String
    }

    public var changedAnything: Bool { promoted != nil || !replaced.isEmpty || !added.isEmpty || !configured.isEmpty }
}
