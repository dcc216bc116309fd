@testable import Planning
import Foundation
@testable import Orchestrator
import Testing

@Suite("ElasticInventory")
struct ElasticInventoryTests {
    typealias R = ElasticTestRecords
    static let machine = LocalMachine(cpus: 2, memoryMiB: 4096, load: 0.25)

    @Test("policy CVMs are the planner's; hand-deployed ones only take capacity")
    func managedOnly() {
        let inventory = ElasticInventory.build(
            hosts: [R.local, R.host("par-1")],
            cvms: [R.cvm("mine"), R.cvm("by-hand", policyCommit: nil, vcpus: 1, memoryMiB: 256),
                   R.cvm("moving", host: "par-1", state: .migrating), R.cvm("going", state: .stopping),
                   R.cvm("dead", state: .failed), R.cvm("new", state: .deploying)],
            machine: Self.machine)
        #expect(inventory.cvms.map(\.id) == ["dead", "going", "mine", "moving", "new"])
        #expect(inventory.cvm(id: "moving")?.phase == .migrating)
        #expect(inventory.cvm(id: "going")?.phase == .decommissioning)
        #expect(inventory.cvm(id: "dead")?.phase == .failed)
        #expect(inventory.cvm(id: "new")?.phase == .deploying)
        let local = inventory.host(named: "local")!
        #expect(local.used == ResourceAmount(vcpus: 5, memoryMiB: 128 * 4 + 256, cvms: 5))
        #expect(inventory.host(named: "par-1")!.used == ResourceAmount(vcpus: 1, memoryMiB: 128, cvms: 1))
    }

    @Test("capacity: the registry's, this machine's for an unsized local host, unlimited for an unsized remote one")
    func capacity() {
        let inventory = ElasticInventory.build(
            hosts: [R.local, R.host("par-1", cpus: 16, memoryMiB: 32768), R.host("unsized", cpus: 0, memoryMiB: 0, latencyMs: nil)],
            cvms: [], machine: Self.machine)
        let local = inventory.host(named: "local")!
        #expect(local.capacity.vcpus == 2 && local.capacity.memoryMiB == 4096)
        #expect(local.trust == .local && local.load == 0.25 && local.latencyMs == 0)
        let par = inventory.host(named: "par-1")!
        #expect(par.capacity.vcpus == 16 && par.capacity.memoryMiB == 32768)
        #expect(par.trust == .privateCloud && par.load == 0 && par.latencyMs == 2 && par.costPerHour == 0.1)
        let unsized = inventory.host(named: "unsized")!
        #expect(unsized.capacity.vcpus > 1_000_000)
        #expect(unsized.latencyMs == .infinity)  // never probed: too far for any latency limit
    }

    @Test("pending actions are overlaid until the store shows them")
    func pendingOverlay() {
        let pending: [PendingAction] = [
            .deploy(cvm: "health-monitor-0001", task: "health-monitor", host: "local", vcpus: 1, memoryMiB: 128),
            .decommission(cvm: "old"), .migrate(cvm: "away", to: "par-1"),
        ]
        let inventory = ElasticInventory.build(
            hosts: [R.local, R.host("par-1")], cvms: [R.cvm("old"), R.cvm("away")], machine: Self.machine, pending: pending)
        #expect(inventory.cvm(id: "health-monitor-0001")?.phase == .deploying)
        #expect(inventory.cvm(id: "old")?.phase == .decommissioning)
        #expect(inventory.cvm(id: "away")?.phase == .migrating)
        #expect(inventory.actionsInFlight == 3)
        #expect(inventory.host(named: "local")!.used.vcpus == 3)

        // Once the deploy wrote its row, the row counts and the overlay adds nothing.
        let written = ElasticInventory.build(
            hosts: [R.local], cvms: [R.cvm("health-monitor-0001", state: .deploying)], machine: Self.machine, pending: [pending[0]])
        #expect(written.cvms.count == 1)
        #expect(written.host(named: "local")!.used.vcpus == 1)
    }

    @Test("a CVM left mid-operation by a process that is gone counts as failed, so it gets cleaned up")
    func crashedOperations() {
        var crashed = R.cvm("crashed", state: .deploying)
        crashed.ownerPid = 4242
        var busy = R.cvm("busy", state: .stopping)
        busy.ownerPid = 7
        let inventory = ElasticInventory.build(
            hosts: [R.local], cvms: [crashed, busy], machine: Self.machine, isAlive: { pid, _ in pid == 7 })
        #expect(inventory.cvm(id: "crashed")?.phase == .failed)
        #expect(inventory.cvm(id: "busy")?.phase == .decommissioning)
        #expect(inventory.actionsInFlight == 1)
    }
}
