import Foundation
import Testing

/// The CLI's help text is part of its interface: subcommands, flags and the stated
/// precedence of settings.
@Suite struct CLIHelpTests {
    @Test func rootListsEveryCommand() throws {
        let out = try CLIHarness().run(["--help"])
        for command in ["deploy", "decommission", "status", "image", "migrate", "monitor", "events", "host", "cluster", "policy", "explain", "elastic", "tms", "probe", "serve", "token"] {
            #expect(out.stdout.contains("  \(command)"), "missing \(command) in:\n\(out.stdout)")
        }
        #expect(out.stdout.contains("CVM_STATE"))
    }

    @Test(arguments: [
        (["deploy", "--help"], ["--image", "--name", "--host", "--timeout", "everything created is removed", "--json", "--state"]),
        (["decommission", "--help"], ["--grace", "Safe to repeat"]),
        (["migrate", "--help"], ["--to", "--bandwidth", "--max-downtime", "Ctrl-C aborts"]),
        (["host", "add", "--help"], ["--address", "--identity", "--host-key", "--accept-new-host-key", "--trust"]),
        (["status", "--help"], ["MISMATCHES", "three intervals"]),
        (["image", "--help"], ["build", "list", "verify"]),
        (["cluster", "--help"], ["create", "status", "heal", "delete", "promotes"]),
        (["cluster", "create", "--help"], ["--size", "--host", "--image", "removed again"]),
    ])
    func commandHelpStatesItsContract(arguments: [String], mentions: [String]) throws {
        let out = try CLIHarness().run(arguments)
        #expect(out.status == 0)
        for text in mentions { #expect(out.stdout.contains(text), "\(arguments) help lacks \(text)") }
    }

    /// A bad flag or value is an error like any other: one line, `cvmctl: error:`, status 1.
    @Test(arguments: [
        ["deploy", "--image", "cvm-base", "--vcpus", "abc"],
        ["deploy", "--image", "cvm-base", "--role", "king"],
        ["deploy", "--image", "cvm-base", "--virt-type", "xen"],
        ["migrate", "web"],
        ["status", "--no-such-flag"],
    ])
    func badArgumentsAreOneLine(arguments: [String]) throws {
        let out = try CLIHarness().run(arguments)
        #expect(out.status == 1, "\(arguments): status \(out.status)")
        let lines = out.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("cvmctl: error: ") == true, "\(arguments): \(out.stderr)")
    }
}
