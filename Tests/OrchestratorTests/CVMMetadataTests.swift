@testable import Orchestrator
import Testing

@Suite struct CVMMetadataTests {
    @Test(arguments: [
        // As libvirt returns it from virDomainGetMetadata: prefix kept.
        "<cvm:instance xmlns:cvm=\"urn:cvm-orchestrator:cvm:1\"><cvm:id>abc</cvm:id><cvm:name>n</cvm:name><cvm:owner>o</cvm:owner></cvm:instance>",
        // With a default namespace instead of a prefix.
        "<instance xmlns=\"urn:cvm-orchestrator:cvm:1\"><id>abc</id><name>n</name><owner>o</owner></instance>",
        // What libvirt 9 really returns when asked for our namespace: no declaration at all.
        "<instance>\n  <id>abc</id>\n  <name>n</name>\n  <owner>o</owner>\n</instance>",
    ])
    func readsOurElementWhateverThePrefix(xml: String) {
        let meta = CVMMetadata(metadataXML: xml)
        #expect(meta?.id == "abc")
        #expect(meta?.name == "n")
        #expect(meta?.owner == "o")
    }

    @Test func ignoresOtherApplicationsMetadata() {
        #expect(CVMMetadata(metadataXML: "<x:instance xmlns:x=\"urn:other\"><x:id>abc</x:id></x:instance>") == nil)
        #expect(CVMMetadata(metadataXML: "<cvm:instance xmlns:cvm=\"urn:cvm-orchestrator:cvm:1\"/>") == nil)
    }
}
