import CVMProtocol
import Foundation

extension CVMOrchestrator {
    /// Has a running CVM's agent try a TCP connection (``ProbeTarget``) and returns what came
    /// of it: the check, from inside a guest, of what the CVM segment lets it reach.
    public func probe(cvm name: String, target: ProbeTarget) async throws -> ProbeResult {
        guard let record = try await store.cvm(named: name) else { throw OrchestratorError.unknownCVM(name) }
        guard record.state == .running else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' is \(record.state.rawValue), not running")
        }
        guard try await store.addressLease(cvmID: record.id) != nil else {
            throw OrchestratorError.invalidArgument("CVM '\(name)' has no NIC on the CVM segment (it was deployed before CVMs had one); redeploy it")
        }
        switch await AgentCommand(store: store, hypervisors: hypervisors).send(.probe, to: record, probe: target) {
        case .success(let ack):
            return ack.result ?? .error
        case .failure(.unreachable(let why)):
            throw OrchestratorError.agentRejected(name: name, reason: why)
        case .failure(.unacknowledged):
            throw OrchestratorError.agentRejected(name: name, reason: "its agent did not acknowledge the probe within 5 s (an image older than the probe command ignores it)")
        }
    }
}
