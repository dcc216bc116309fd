import ConfigFile
import Foundation
import Testing
import Yams

@Suite("YAMLText")
struct YAMLTextTests {
    @Test("a text larger than the limit is refused before parsing")
    func tooLarge() throws {
        let text = "a: " + String(repeating: "x", count: 1 << 20) + "\n"
        let error = try #require(throws: YAMLTextError.self) { try YAMLText.compose(text) }
        #expect(error.code == .tooLarge)
        #expect((error.line, error.column) == (1, 1))
        #expect(error.message == "larger than 1 MiB, the most a configuration file may hold")
        #expect(try YAMLText.compose("a: 1234", limits: YAMLLimits(maximumBytes: 7)) != nil)
        #expect(throws: YAMLTextError.self) { try YAMLText.compose("a: 12345", limits: YAMLLimits(maximumBytes: 7)) }
    }

    @Test("a text nested deeper than the limit is refused before parsing, where it goes too deep")
    func tooDeep() throws {
        let error = try #require(throws: YAMLTextError.self) {
            try YAMLText.compose("ok: 1\nbad: " + HostileYAML.flowSequences.document(depth: 5_000))
        }
        #expect(error.code == .tooDeep)
        #expect((error.line, error.column) == (2, 6 + 63))  // the root mapping is the first level
        #expect(error.message == "nested more than 64 levels deep")
        let shallow = HostileYAML.flowSequences.document(depth: 64)
        #expect(try YAMLText.compose(shallow)?.depth == 64)
    }

    @Test("libyaml's refusal: its position and problem on one line")
    func syntax() throws {
        let error = try #require(throws: YAMLTextError.self) { try YAMLText.compose("a: [1, 2\nb: 3\n") }
        #expect(error.code == .syntax)
        #expect(error.line == 2)
        #expect(error.message == "did not find expected ',' or ']' (while parsing a flow sequence)")
        let control = try #require(throws: YAMLTextError.self) { try YAMLText.compose("a: 1\nb: \u{1}\n") }
        #expect(control.code == .syntax)
        #expect((control.line, control.column) == (2, 4))
        #expect(!control.message.contains("\n"))
    }

    @Test("as a configuration-file error: file:line:col, key '-', one line")
    func configFileError() {
        #expect(throws: ConfigFileError(file: "f.yaml", line: 2, column: 2, key: "-",
                                        problem: "not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence)")) {
            try YAMLText.compose("a: [1, 2\nb: 3\n", file: "f.yaml")
        }
        #expect(throws: ConfigFileError(file: "f.yaml", line: 1, column: 5, key: "-", problem: "nested more than 2 levels deep")) {
            try YAMLText.compose("a: [[1]]", file: "f.yaml", limits: YAMLLimits(maximumDepth: 2))
        }
    }

    @Test("a file is read only up to the limit; unreadable and non-UTF-8 files are errors naming them")
    func read() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("yamltext-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("c.yaml").path
        try Data("a: 1\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try YAMLText.read(file: file) == "a: 1\n")
        #expect(throws: ConfigFileError(file: file, line: 1, column: 1, key: "-", problem: "larger than 4 bytes, the most a configuration file may hold")) {
            try YAMLText.read(file: file, limits: YAMLLimits(maximumBytes: 4))
        }
        try Data([0x61, 0x3A, 0x20, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: file))
        let notText = try #require(throws: ConfigFileError.self) { try YAMLText.read(file: file) }
        #expect(notText.problem == "cannot read the file: not UTF-8 text")
        let missing = try #require(throws: ConfigFileError.self) { try YAMLText.read(file: directory.path + "/none.yaml") }
        #expect(missing.line == 0 && missing.problem.hasPrefix("cannot read the file: "))
        #expect(throws: ConfigFileError.self) { try YAMLText.read(file: directory.path) }
    }
}
