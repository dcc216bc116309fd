import ArgumentParser
import Foundation
import Orchestrator

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build, list and verify CVM images.",
        subcommands: [Build.self, List.self, Verify.self])

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build an image from Debian packages with its recipe and record artifact checksums.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Image name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let catalog = ImageCatalog(root: global.configuration.imagesDirectory)
                let lock = try catalog.build(name, logger: global.logger)
                if global.json { try JSONOutput.print(lock); return }
                print("built \(lock.image) \(lock.version):")
                for (artifact, entry) in lock.artifacts.sorted(by: { $0.key < $1.key }) {
                    print("  \(artifact.padding(toLength: 8, withPad: " ", startingAt: 0)) \(entry.file)  \(Format.bytes(entry.bytes))  sha256 \(entry.sha256)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the images in the catalog.")
        @OptionGroup var global: GlobalOptions

        struct Row: Encodable {
            var name: String, version: String, tasks: [String], hypervisors: [String]
            var vcpus: Int, memoryMiB: Int, diskMiB: Int, built: Bool, builtAt: Date?
        }

        func run() async throws {
            try await reportingErrors {
                let catalog = ImageCatalog(root: global.configuration.imagesDirectory)
                let rows = try catalog.names().map { name -> Row in
                    let m = try catalog.manifest(name)
                    let lock = try catalog.lock(name)
                    return Row(name: m.name, version: m.version, tasks: m.tasks, hypervisors: m.hypervisors,
                               vcpus: m.defaults.vcpus, memoryMiB: m.defaults.memoryMiB, diskMiB: m.defaults.diskMiB,
                               built: lock != nil, builtAt: lock?.builtAt)
                }
                if global.json { try JSONOutput.print(rows); return }
                var table = Table("NAME", "VERSION", "BUILT", "VCPU", "MEM", "DISK", "HYPERVISORS", "TASKS")
                for r in rows {
                    table.add([r.name, r.version, r.built ? "yes" : "no", "\(r.vcpus)", "\(r.memoryMiB)MiB", "\(r.diskMiB)MiB",
                               r.hypervisors.joined(separator: ","), r.tasks.joined(separator: ",")])
                }
                print(table.rendered)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check every artifact of an image against its recorded sha256.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Image name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let image = try ImageCatalog(root: global.configuration.imagesDirectory).verified(name)
                if global.json { try JSONOutput.print(image.lock); return }
                print("\(name) \(image.manifest.version): all \(image.manifest.artifacts.count) artifacts match their sha256")
            }
        }
    }
}
