import CVMProtocol
@testable import Libvirt
import Foundation
@testable import Orchestrator
import Testing

@Suite struct DomainDefinitionTests {
    static let record = CVMRecord(
        id: "0b7c6a0e-5d7e-4a8e-9c1e-2f6a7b8c9d01", name: "web<1>&co", image: "cvm-base", imageVersion: "0.1.0",
        task: "health-monitor", role: .master, host: "local", domainName: "cvm-web1", state: .deploying,
        secret: String(repeating: "ab", count: 32), vcpus: 2, memoryMiB: 128, diskMiB: 64, intervalMs: 1000,
        virtType: "qemu", createdAt: Date(timeIntervalSince1970: 0))

    static var cvmDefinition: DomainDefinition {
        .cvm(record, owner: "store-1", kernel: "/var/lib/cvm/images/abc", initrd: "/var/lib/cvm/volumes/web1-initrd.img",
             disk: "/var/lib/cvm/volumes/web1-disk.qcow2", cmdline: "console=ttyS0 quiet panic=-1")
    }

    @Test func cvmDomainMatchesGoldenFile() throws {
        let rendered = Self.cvmDefinition.xml
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try rendered.write(toFile: Fixtures.sourcePath("cvm-domain.golden.xml"), atomically: true, encoding: .utf8)
        }
        #expect(rendered == (try Fixtures.text("cvm-domain.golden.xml")))
    }

    @Test func renderedCVMDomainParsesBackToTheSameValue() throws {
        let parsed = try DomainDefinition(xml: Self.cvmDefinition.xml)
        #expect(parsed == Self.cvmDefinition)
        #expect(parsed.metadata.cvm?.name == "web<1>&co")
    }

    @Test func namesAndMetadataAreEscaped() {
        let xml = Self.cvmDefinition.xml
        #expect(xml.contains("<cvm:name>web&lt;1&gt;&amp;co</cvm:name>"))
        #expect(!xml.contains("web<1>"))
    }

    /// A live document from libvirt carries much we do not model (controllers, addresses,
    /// aliases, cpu, clock, seclabels). Parsing and rendering it again must keep all of it.
    @Test func unmodeledElementsSurviveReadModifyWrite() throws {
        let original = try XMLTree.parse(try Fixtures.text("live-domain.xml"))
        var definition = try DomainDefinition(tree: original)
        #expect(definition.metadata.cvm?.id == "7402172c-3398-4395-b5b6-5b34d499f6d3")
        #expect(definition.devices.channels.isEmpty) // live channel has state: kept verbatim instead
        definition.vcpus = 2
        let rewritten = try XMLTree.parse(definition.xml)
        var before = Self.flatten(original)
        var after = Self.flatten(rewritten)
        // The live `id` attribute is runtime state, not definition; vcpus is what we changed.
        before = before.map { $0 == "domain|id=8,type=qemu|" ? "domain|type=qemu|" : $0 }
        #expect(before.contains("domain/vcpu|placement=static|1") && after.contains("domain/vcpu|placement=static|2"))
        before.removeAll { $0.hasPrefix("domain/vcpu|") }
        after.removeAll { $0.hasPrefix("domain/vcpu|") }
        #expect(before.sorted() == after.sorted())
    }

    @Test func parsingRejectsOtherDocuments() {
        #expect(throws: XMLParseError.self) { try DomainDefinition(xml: "<pool type='dir'><name>x</name></pool>") }
        #expect(throws: XMLParseError.self) { try DomainDefinition(xml: "<domain><name>x</name>") }
    }

    /// Every element as "path|sorted attributes|own text", for order-insensitive comparison.
    static func flatten(_ tree: XMLTree, path: String = "") -> [String] {
        let here = path.isEmpty ? tree.name : "\(path)/\(tree.name)"
        let attributes = tree.attributes.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let ownText = tree.children.compactMap { if case .text(let t) = $0 { return t } else { return nil } }
            .joined().trimmingCharacters(in: .whitespacesAndNewlines)
        return ["\(here)|\(attributes)|\(ownText)"] + tree.elements.flatMap { flatten($0, path: here) }
    }
}

@Suite struct DomainInterfaceTests {
    @Test func aCVMNICRendersAndParsesBack() throws {
        var definition = DomainDefinitionTests.cvmDefinition
        definition.devices.interfaces = [.init(network: CVMNetworkDefinition.networkName, mac: "52:54:00:4d:00:02")]
        let xml = definition.xml
        #expect(xml.contains("<interface type=\"network\">") || xml.contains("<interface type='network'>"))
        #expect(xml.contains("52:54:00:4d:00:02") && xml.contains(CVMNetworkDefinition.networkName) && xml.contains("virtio"))
        #expect(try DomainDefinition(xml: xml) == definition)
        definition.devices.interfaces[0].targetDev = "cv0123456789ab"
        definition.devices.interfaces[0].mtu = 1450
        let full = definition.xml
        #expect(full.contains("cv0123456789ab") && full.contains("1450"))
        #expect(try DomainDefinition(xml: full) == definition)
    }

    @Test func theCVMNetworkIsABridgeModeNetworkWithNoDHCPOrAddress() throws {
        let subnet = try IPv4Subnet.parse("10.77.0.0/24").get()
        for gateway in [true, false] {
            let xml = CVMNetworkDefinition(subnet: subnet, carriesGateway: gateway).xml
            #expect(xml.contains("<forward mode='bridge'/>") && xml.contains("<bridge name='cvmnet0'/>"))
            #expect(!xml.contains("<ip") && !xml.contains("<dhcp") && !xml.contains("nat"))
        }
    }
}
