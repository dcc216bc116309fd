import ConfigFile
@testable import Orchestrator
import Testing

@Suite struct ImageManifestTests {
    static let valid = """
    name: cvm-base
    version: 1.2.0
    description: test image
    tasks: [health-monitor, log-collector]
    hypervisors: [qemu, kvm]
    defaults:
      vcpus: 1
      memoryMiB: 128
      diskMiB: 64
    boot:
      method: direct-kernel
      cmdline: console=ttyS0 quiet
    artifacts:
      - name: kernel
        file: vmlinuz
      - name: initrd
        file: initrd.img
    recipe: recipe.sh
    """

    @Test func parsesAValidManifest() throws {
        let m = try ImageManifest.parse(Self.valid, file: "m.yaml")
        #expect(m.name == "cvm-base")
        #expect(m.tasks == ["health-monitor", "log-collector"])
        #expect(m.defaults == .init(vcpus: 1, memoryMiB: 128, diskMiB: 64))
        #expect(m.artifact("kernel")?.file == "vmlinuz")
    }

    /// Each broken manifest must be refused with the file, the line and the field named.
    @Test(arguments: [
        ("version: 1.2.0", "versoin: 1.2.0", 2, "versoin", "unknown key"),
        ("  vcpus: 1", "  vcpus: one", 7, "defaults.vcpus", "expected an integer"),
        ("  memoryMiB: 128", "  memoryMiB: 1", 8, "defaults.memoryMiB", "out of range"),
        ("hypervisors: [qemu, kvm]", "hypervisors: [qemu, xen]", 5, "hypervisors", "unknown hypervisor kind 'xen'"),
        ("  method: direct-kernel", "  method: pxe", 11, "boot.method", "unsupported boot method"),
        ("    file: vmlinuz", "    file: ../vmlinuz", 15, "artifacts[0].file", "plain file name"),
        ("recipe: recipe.sh", "", 1, "recipe", "required key is missing"),
        ("tasks: [health-monitor, log-collector]", "tasks: health-monitor", 4, "tasks", "expected a list"),
    ])
    func malformedManifestNamesFileLineAndField(original: String, replacement: String, line: Int, key: String, problem: String) {
        let text = Self.valid.replacingOccurrences(of: original, with: replacement)
        #expect(text != Self.valid)
        do {
            _ = try ImageManifest.parse(text, file: "images/x/manifest.yaml")
            Issue.record("accepted a broken manifest")
        } catch let error as ConfigFileError {
            #expect(error.file == "images/x/manifest.yaml")
            #expect(error.line == line)
            #expect(error.key == key)
            #expect(error.problem.contains(problem))
            #expect(error.description.hasPrefix("images/x/manifest.yaml:\(line):"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func invalidYAMLIsReportedWithItsLine() {
        #expect(throws: ConfigFileError.self) { try ImageManifest.parse("name: [unclosed\n", file: "m.yaml") }
    }

    @Test func numbersBeyondIntAreRangeErrors() throws {
        let text = Self.valid.replacingOccurrences(of: "  memoryMiB: 128", with: "  memoryMiB: 99999999999999999999")
        let error = try #require(throws: ConfigFileError.self) { try ImageManifest.parse(text, file: "m.yaml") }
        #expect(error.description == "m.yaml:8:14: defaults.memoryMiB: 99999999999999999999 is out of range 32...65536")
    }

    @Test func deepOrLargeManifestsAreRefusedUnparsed() throws {
        let deep = "name: " + String(repeating: "{a: ", count: 5_000)
        let error = try #require(throws: ConfigFileError.self) { try ImageManifest.parse(deep, file: "m.yaml") }
        #expect(error.description == "m.yaml:1:\(7 + 63 * 4): -: nested more than 64 levels deep")
        let large = Self.valid + "\n#" + String(repeating: "x", count: 1 << 20)
        #expect(throws: ConfigFileError(file: "m.yaml", line: 1, column: 1, key: "-",
                                        problem: "larger than 1 MiB, the most a configuration file may hold")) {
            try ImageManifest.parse(large, file: "m.yaml")
        }
    }
}
