import Foundation
@testable import Planning

/// Test inputs kept as files: policy fixtures (copied into the test bundle) and the
/// repository's own example policies.
enum PolicyFixtures {
    /// The policy files of fixture folder `name` (under `Fixtures/policy/`), reported as
    /// `name/file.yaml`.
    static func policy(_ name: String) throws -> [PolicyFile] {
        let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let folder = root.appendingPathComponent("policy").appendingPathComponent(name)
        return try PolicyFile.files(inDirectory: folder.path, reportedAs: name + "/")
    }

    /// The example policies of the repository (`policies/`), found by walking up from this file.
    static func examplePolicies() throws -> [PolicyFile] {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("policies")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("README.md").path) {
                return try PolicyFile.files(inDirectory: candidate.path, reportedAs: "policies/")
            }
            dir = dir.deletingLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile)
    }

    /// The image catalog the fixtures and examples are validated against.
    static let catalog = PolicyContext(images: [
        ImageProfile(name: "cvm-base", hypervisors: [.kvm, .qemu], defaultVCPUs: 1, defaultMemoryMiB: 512),
    ])
}
