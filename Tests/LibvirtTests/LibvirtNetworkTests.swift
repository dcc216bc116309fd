import Foundation
import Libvirt
import Testing

/// The network wrapper against libvirt's test driver (its own in-process state per connection).
@Suite struct LibvirtNetworkTests {
    static let xml = """
        <network><name>cvm-test-net</name><bridge name='cvmtest0' stp='off' delay='0'/></network>
        """

    @Test func aNetworkIsCreatedFoundAndRemovedIdempotently() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        #expect(try c.lookupNetwork(name: "cvm-test-net") == nil)
        let network = try c.createNetwork(xml: Self.xml)
        #expect(network.isActive && network.name == "cvm-test-net")
        #expect(try network.xml().contains("cvmtest0"))
        #expect(try c.lookupNetwork(name: "cvm-test-net")?.isActive == true)
        try network.remove()
        #expect(try c.lookupNetwork(name: "cvm-test-net") == nil)
    }

    @Test func badXMLIsAnErrorAndDefinesNothing() throws {
        let c = try LibvirtConnection(uri: "test:///default")
        #expect(throws: LibvirtError.self) { try c.createNetwork(xml: "<network><name>broken") }
        #expect(try c.lookupNetwork(name: "broken") == nil)
    }
}
