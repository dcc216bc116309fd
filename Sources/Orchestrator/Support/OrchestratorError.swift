/// Failures an operator can act on. Each `description` is one line that says what went
/// wrong and what to do about it; it never contains a secret.
public enum OrchestratorError: Error, Sendable, CustomStringConvertible, Equatable {
    case unknownImage(String, available: [String])
    case imageNotBuilt(String)
    case artifactCorrupted(image: String, artifact: String, file: String, expected: String, actual: String)
    case artifactMissing(image: String, artifact: String, file: String)
    case libvirtUnreachable(uri: String, reason: String)
    case nameTaken(String)
    case invalidName(String)
    case deployTimeout(name: String, seconds: Double, hint: String)
    case deployInProgress(name: String, pid: Int32)
    /// libvirt has a domain of the CVM's domain name that no CVM of this store owns.
    case domainExists(name: String, domain: String, host: String)
    case unknownCVM(String)
    case unknownCluster(String)
    case clusterBusy(name: String, pid: Int32)
    case unknownHost(String)
    case imageBuildFailed(String, status: Int32)
    case agentRejected(name: String, reason: String)
    /// A `serve` was acknowledged but no heartbeat said the data plane serves in time.
    case notServing(name: String, seconds: Int, reason: String)
    /// The CVM's data plane refused the configuration it was sent, in its words (bounded).
    case configRefused(name: String, reason: String)
    case invalidArgument(String)
    case hostUnreachable(host: String, reason: String)
    case hostRefused(host: String, reason: String)
    case noCapacity(host: String, reason: String)
    case migrationFailed(name: String, reason: String)
    /// A write found its file system full; `shortMiB`: how much more room it needed, if known.
    case noSpace(path: String, shortMiB: Int?)
    /// The operator interrupted a long operation, which was undone.
    case interrupted(String)

    public var description: String {
        switch self {
        case .unknownImage(let name, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "unknown image '\(name)' (available: \(list)); see `cvmctl image list`"
        case .imageNotBuilt(let name):
            return "image '\(name)' has not been built; run `cvmctl image build \(name)`"
        case .artifactCorrupted(let image, let artifact, let file, let expected, let actual):
            return "image '\(image)': artifact \(artifact) (\(file)) has sha256 \(actual.prefix(16))…, expected \(expected.prefix(16))…; refusing to use it — rebuild with `cvmctl image build \(image)`"
        case .artifactMissing(let image, let artifact, let file):
            return "image '\(image)': artifact \(artifact) is missing (\(file)); rebuild with `cvmctl image build \(image)`"
        case .libvirtUnreachable(let uri, let reason):
            return "cannot reach libvirt at \(uri): \(reason); is libvirtd running? (scripts/setup-host.sh starts one)"
        case .nameTaken(let name):
            return "a CVM named '\(name)' already exists with a different definition; choose another --name or decommission it first"
        case .invalidName(let name):
            return "invalid CVM name '\(name)': use 1-40 characters a-z, 0-9 and '-', starting with a letter"
        case .deployTimeout(let name, let seconds, let hint):
            return "CVM '\(name)' sent no valid heartbeat within \(Self.format(seconds)) s; deploy rolled back\(hint.isEmpty ? "" : " (\(hint))")"
        case .deployInProgress(let name, let pid):
            let who = pid == getpid() ? "another operation of this cvmctl" : "another cvmctl"
            return "CVM '\(name)' is being deployed or changed by \(who) (pid \(pid)); wait for it to finish or stop that process"
        case .domainExists(let name, let domain, let host):
            return "host '\(host)' already has a libvirt domain '\(domain)' that no CVM of this store owns; choose another --name for '\(name)', or remove that domain (virsh destroy/undefine \(domain)) if it is a leftover"
        case .unknownCVM(let name):
            return "no CVM named '\(name)'; see `cvmctl status`"
        case .unknownCluster(let name):
            return "no cluster named '\(name)'; see `cvmctl cluster status`"
        case .clusterBusy(let name, let pid):
            return "cluster '\(name)' is being changed by process \(pid); wait for it to finish"
        case .unknownHost(let name):
            return "unknown host '\(name)'; see `cvmctl host list`"
        case .imageBuildFailed(let name, let status):
            return "building image '\(name)' failed (recipe exit status \(status)); see the recipe output above"
        case .agentRejected(let name, let reason):
            return "CVM '\(name)': \(reason)"
        case .notServing(let name, let seconds, let reason):
            return "CVM '\(name)': not serving after \(seconds) s: \(reason)"
        case .configRefused(let name, let reason):
            return "CVM '\(name)' refused its configuration: \(reason)"
        case .invalidArgument(let message):
            return message
        case .hostUnreachable(let host, let reason):
            return "host '\(host)' is unreachable: \(reason)"
        case .hostRefused(let host, let reason):
            return "host '\(host)' refused: \(reason)"
        case .noCapacity(let host, let reason):
            return "host '\(host)' cannot take it: \(reason)"
        case .interrupted(let what):
            return what
        case .noSpace(let path, let shortMiB):
            let free = shortMiB.map { "free at least \($0) MiB" } ?? "free some space"
            return "no space left on device writing \(path): \(free) on that file system and retry (nothing of this operation was kept)"
        case .migrationFailed(let name, let reason):
            return "migration of '\(name)' failed, it still runs where it was: \(reason)"
        }
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

import Foundation
