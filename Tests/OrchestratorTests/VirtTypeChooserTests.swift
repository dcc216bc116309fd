import Foundation
@testable import Orchestrator
import Testing

@Suite struct VirtTypeChooserTests {
    @Test func explicitRequestWinsWithoutProbing() {
        let chosen = VirtTypeChooser.choose(requested: "qemu", cacheDirectory: "/nonexistent") {
            Issue.record("probed although the type was given")
            return nil
        }
        #expect(chosen.type == "qemu")
    }

    @Test func verdictIsCachedPerBoot() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = VirtTypeChooser.choose(requested: "auto", cacheDirectory: dir) { "test says no" }
        #expect(first.type == "qemu") // either /dev/kvm is unusable or the boot probe says no
        let second = VirtTypeChooser.choose(requested: "auto", cacheDirectory: dir) {
            Issue.record("probed again within the same boot")
            return nil
        }
        #expect(second.type == "qemu")
        #expect(second.reason.contains("cached"))
    }
}
