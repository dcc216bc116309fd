import Foundation
import Testing
@testable import cvmctl

@Suite struct CommandTreeTests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/cvmctl").standardized

    @Test("the whole command tree is valid: no two options of a command share a name (what the man pages are made from)")
    func treeIsValid() throws {
        let tool = Process()
        tool.executableURL = Self.binary
        tool.arguments = ["--experimental-dump-help"]
        let out = Pipe()
        tool.standardOutput = out
        tool.standardError = out
        try tool.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        tool.waitUntilExit()
        #expect(tool.terminationStatus == 0)
        let json = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data.prefix(2000), as: UTF8.self))")
        let subcommands = (json["command"] as? [String: Any])?["subcommands"] as? [[String: Any]] ?? []
        #expect(subcommands.count >= 15)
    }

    @Test("a reader that goes away (cvmctl --help | head -1) is not a crash")
    func closedPipe() throws {
        let tool = Process()
        tool.executableURL = Self.binary
        tool.arguments = ["--experimental-dump-help"]
        let out = Pipe(), errors = Pipe()
        tool.standardOutput = out
        tool.standardError = errors
        try out.fileHandleForReading.close()
        try tool.run()
        tool.waitUntilExit()
        #expect(tool.terminationReason == .exit, "killed by a signal")
        let said = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!said.contains("Fatal error") && !said.contains("crashed"), "\(said.prefix(500))")
    }
}
