import CVMProtocol
import Foundation
@testable import Orchestrator
import Synchronization
import Testing

@Suite struct IPv4SubnetTests {
    @Test(arguments: [
        ("10.77.0.0/24", "10.77.0.0/24"), ("192.168.8.0/22", "192.168.8.0/22"), ("10.0.0.0/8", "10.0.0.0/8"),
    ])
    func validSubnetsParse(text: String, shown: String) throws {
        let subnet = try IPv4Subnet.parse(text).get()
        #expect(subnet.description == shown)
    }

    @Test(arguments: ["", "10.77.0.0", "10.77.0.0/", "10.77.0/24", "10.77.0.0.0/24", "10.77.0.256/24",
                      "010.77.0.0/24", "10.77.0.0/024", "10.77.0.0/+24", "a.b.c.d/24", "10.77.0.0/24/1",
                      "10.77.0.0/99999999999999999999", String(repeating: "1", count: 10_000)])
    func malformedSubnetsAreRefused(text: String) {
        guard case .failure(let problem) = IPv4Subnet.parse(text), case .syntax = problem else {
            Issue.record("'\(text.prefix(30))' was not refused as syntax: \(IPv4Subnet.parse(text))")
            return
        }
        #expect("\(problem)".contains("CIDR"))
    }

    @Test func prefixAndHostBitsAreChecked() {
        #expect(IPv4Subnet.parse("10.77.0.0/31") == .failure(.prefixLength("10.77.0.0/31")))
        #expect(IPv4Subnet.parse("10.0.0.0/7") == .failure(.prefixLength("10.0.0.0/7")))
        #expect(IPv4Subnet.parse("10.77.0.5/24") == .failure(.hostBitsSet("10.77.0.5/24")))
    }

    @Test func rangesOverlapsAndMACs() throws {
        let s = try IPv4Subnet.parse("10.77.0.0/29").get()
        #expect(IPv4Subnet.format(s.gateway) == "10.77.0.1")
        #expect(s.cvmAddresses.map(IPv4Subnet.format) == ["10.77.0.2", "10.77.0.3", "10.77.0.4", "10.77.0.5", "10.77.0.6"])
        #expect(s.overlaps(try IPv4Subnet.parse("10.0.0.0/8").get()))
        #expect(s.overlaps(try IPv4Subnet.parse("10.77.0.4/30").get()))
        #expect(!s.overlaps(try IPv4Subnet.parse("10.77.0.8/29").get()))
        #expect(!s.overlaps(try IPv4Subnet.parse("10.200.0.0/24").get()))
        #expect(IPv4Subnet.mac(for: IPv4Subnet.parseAddress("10.77.1.2")!) == "52:54:00:4d:01:02")
    }
}

@Suite struct AddressLeaseTests {
    static let subnet = try! IPv4Subnet.parse("10.77.0.0/29").get()

    @Test func leasesAreLowestFreeStableAndReleasedWithTheCVM() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        let a = StoreTests.record("a"), b = StoreTests.record("b")
        try store.insert(a)
        try store.insert(b)
        let first = try store.leaseAddress(cvmID: a.id, in: Self.subnet)
        #expect(first.address == "10.77.0.2" && first.mac == "52:54:00:4d:00:02")
        let again = try store.leaseAddress(cvmID: a.id, in: Self.subnet)
        #expect(again.address == first.address && again.mac == first.mac)
        #expect(try store.leaseAddress(cvmID: b.id, in: Self.subnet).address == "10.77.0.3")
        // Decommissioned: the row and the lease go together; the address is free again.
        try store.deleteCVM(id: a.id)
        #expect(try store.addressLease(cvmID: a.id) == nil)
        #expect(try store.leaseAddress(cvmID: "c", in: Self.subnet).address == "10.77.0.2")
        try store.releaseAddress(cvmID: "c")
        try store.releaseAddress(cvmID: "c")
        #expect(try store.addressLeases().map(\.address) == ["10.77.0.3"])
    }

    @Test func exhaustionIsOneLineAndLeasesNothing() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(directory: dir)
        for i in 0..<5 { _ = try store.leaseAddress(cvmID: "cvm-\(i)", in: Self.subnet) }
        #expect {
            try store.leaseAddress(cvmID: "one-too-many", in: Self.subnet)
        } throws: { error in
            let text = "\(error)"
            return text.contains("10.77.0.0/29 is full") && !text.contains("\n")
        }
        #expect(try store.addressLeases().count == 5)
        #expect(try store.addressLease(cvmID: "one-too-many") == nil)
    }

    @Test func concurrentStoresNeverShareAnAddress() async throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Store(directory: dir)
        let wide = try IPv4Subnet.parse("10.77.0.0/24").get()
        let addresses = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let store = try Store(directory: dir)
                    return try (0..<20).map { try store.leaseAddress(cvmID: "w\(worker)-\($0)", in: wide).address }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(addresses.count == 80 && Set(addresses).count == 80)
    }
}

@Suite struct LocalNetworksTests {
    @Test func thisMachinesNetworksAreFoundAndOverlapsNamed() throws {
        let mine = LocalNetworks.current()
        #expect(!mine.contains { $0.name == "lo" })
        let made = [LocalNetworks.Interface(name: "cvmbr0", subnet: try IPv4Subnet.parse("10.200.0.0/24").get())]
        let clash = LocalNetworks.conflict(of: try IPv4Subnet.parse("10.200.0.0/16").get(), with: made, where: "local")
        #expect(clash == "the CVM subnet 10.200.0.0/16 overlaps 10.200.0.0/24 on cvmbr0 of local; choose another with CVM_SUBNET")
        #expect(LocalNetworks.conflict(of: try IPv4Subnet.parse("10.77.0.0/24").get(), with: made, where: "local") == nil)
        #expect(LocalNetworks.conflict(of: try IPv4Subnet.parse("10.200.0.0/16").get(), with: made, where: "local",
                                       ownBridge: "cvmbr0") == nil)
        // Every interface with an IPv4 address conflicts with its own network.
        for interface in mine {
            #expect(LocalNetworks.conflict(of: interface.subnet, with: mine, where: "local") != nil)
        }
    }
}
