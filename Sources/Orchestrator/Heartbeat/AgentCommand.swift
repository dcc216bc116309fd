import CVMProtocol
import Foundation

/// One signed command to a running CVM's agent, over its channel (taken over from the
/// monitor, which reopens it), and its acknowledgement. Heartbeats read meanwhile are
/// recorded, so the CVM does not look silent to the monitor.
package struct AgentCommand: Sendable {
    let store: Store
    let hypervisors: any HypervisorProvider

    package enum Failure: Error, Equatable {
        /// Its domain is not running, or its channel could not be opened.
        case unreachable(String)
        /// The command went out but no acknowledgement came in time.
        case unacknowledged
    }

    /// Sends the command; the agent's acknowledgement, or why there is none. With `until`,
    /// also waits (within the same `timeout`) for a heartbeat after the acknowledgement that
    /// satisfies it (a data plane reporting that it serves).
    package func send(_ op: Command.Operation, to member: CVMRecord, role: AgentConfig.Role? = nil, peers: [String] = [],
                      probe: ProbeTarget? = nil, config: String? = nil, timeout: Duration = .seconds(5),
                      until: (@Sendable (Heartbeat) -> Bool)? = nil) async -> Result<Acknowledgement, Failure> {
        guard let secret = Hex.decode(member.secret) else { return .failure(.unreachable("its secret is unreadable")) }
        let channel: any AgentLink
        do {
            let host = try await store.requireHost(named: member.host)
            let hypervisor = try await hypervisors.hypervisor(for: host)
            guard let domain = try await hypervisor.lookupDomain(named: member.domainName), await domain.isActive() else {
                return .failure(.unreachable("its domain is not running on \(member.host)"))
            }
            channel = try await domain.openAgentChannel(cvmID: member.id, secret: secret, force: true)
        } catch {
            return .failure(.unreachable("\(error)"))
        }
        defer { channel.close() }
        guard let seq = try? await channel.send(op, role: role, peers: peers, probe: probe, config: config) else {
            return .failure(.unreachable("the command could not be written to its channel"))
        }
        let store = self.store
        return await withTaskGroup(of: Acknowledgement?.self) { group in
            group.addTask {
                var acknowledged: Acknowledgement?
                for await event in channel.events {
                    if case .acknowledged(let ack) = event, ack.seq == seq {
                        if until == nil { return ack }
                        acknowledged = ack
                    }
                    if case .heartbeat(let hb, _) = event {
                        _ = try? await store.update(cvmID: member.id) { $0.apply(hb, at: Date()) }
                        if let ack = acknowledged, let until, until(hb) { return ack }
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let ack = await group.next() ?? nil
            group.cancelAll()
            return ack.map { .success($0) } ?? .failure(.unacknowledged)
        }
    }
}
