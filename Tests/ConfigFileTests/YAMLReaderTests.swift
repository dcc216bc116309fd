import ConfigFile
import Testing

@Suite("YAMLReader")
struct YAMLReaderTests {
    static let text = """
        name: web
        count: 12
        enabled: yes
        kind: tcp
        hosts: [a, b]
        limits: { max: 9223372036854775807, huge: 99999999999999999999, quoted: "5", word: five }
        items:
          - { n: 1 }
          - { n: 2 }
        empty:
        """

    enum Kind: String, CaseIterable { case tcp, http }

    static func reader() throws -> YAMLReader {
        try YAMLReader.parse(text, file: "r.yaml")
    }

    @Test("typed values, and their keys' paths")
    func values() throws {
        let reader = try Self.reader()
        #expect(try reader.string("name") == "web")
        #expect(try reader.int("count", in: 1...100) == 12)
        #expect(try reader.optionalInt("missing", in: 1...100) == nil)
        #expect(try reader.bool("enabled"))
        #expect(try reader.choice("kind", Kind.self) == .tcp)
        #expect(try reader.stringList("hosts") == ["a", "b"])
        #expect(try reader.mappings("items").map { (item) throws(ConfigFileError) in try item.int("n", in: 0...9) } == [1, 2])
        #expect(try reader.mappings("items")[1].keyPath("n") == "items[1].n")
        #expect(try reader.optionalMappings("empty").isEmpty)
        #expect(try reader.optionalMappings("absent").isEmpty)
        #expect(try reader.submapping("limits").int("quoted", in: 0...9) == 5)
    }

    static func error(_ read: (YAMLReader) throws(ConfigFileError) -> Void) throws -> ConfigFileError {
        let reader = try reader()
        do {
            try read(reader)
        } catch {
            return error
        }
        throw ConfigFileError(file: "-", line: 0, column: 0, key: "-", problem: "no error")
    }

    @Test("a number beyond Int, or beyond the key's range, is a range error at the number")
    func ranges() throws {
        let max = try Self.error { (r) throws(ConfigFileError) in _ = try r.submapping("limits").int("max", in: 0...1_000) }
        #expect(max == ConfigFileError(file: "r.yaml", line: 6, column: 16, key: "limits.max",
                                       problem: "9223372036854775807 is out of range 0...1000"))
        let huge = try Self.error { (r) throws(ConfigFileError) in _ = try r.submapping("limits").int("huge", in: 0...1_000) }
        #expect(huge == ConfigFileError(file: "r.yaml", line: 6, column: 43, key: "limits.huge",
                                        problem: "99999999999999999999 is out of range 0...1000"))
        let word = try Self.error { (r) throws(ConfigFileError) in _ = try r.submapping("limits").int("word", in: 0...1_000) }
        #expect(word == ConfigFileError(file: "r.yaml", line: 6, column: 84, key: "limits.word",
                                        problem: "expected an integer, found 'five'"))
        let count = try Self.error { (r) throws(ConfigFileError) in _ = try r.int("count", in: 1...10) }
        #expect(count.description == "r.yaml:2:8: count: 12 is out of range 1...10")
    }

    @Test("missing keys, wrong shapes and unknown keys name file, line, column and key")
    func shapes() throws {
        #expect(try Self.error { (r) throws(ConfigFileError) in _ = try r.string("absent") }.description
            == "r.yaml:1:1: absent: required key is missing")
        #expect(try Self.error { (r) throws(ConfigFileError) in _ = try r.submapping("hosts") }.description
            == "r.yaml:5:8: hosts: expected a mapping")
        #expect(try Self.error { (r) throws(ConfigFileError) in _ = try r.mappings("hosts") }.description
            == "r.yaml:5:9: hosts: item 1 must be a mapping")
        #expect(try Self.error { (r) throws(ConfigFileError) in _ = try r.choice("name", Kind.self) }.description
            == "r.yaml:1:7: name: expected one of: tcp, http, found 'web'")
        #expect(try Self.error { (r) throws(ConfigFileError) in try r.expectOnly(["count"]) }.description
            == "r.yaml:1:1: name: unknown key (expected one of: count)")
        #expect(try Self.error { (r) throws(ConfigFileError) in try r.submapping("items").expectOnly([]) }.description
            == "r.yaml:8:3: items: expected a mapping")
    }

    @Test("the top level must be a mapping")
    func topLevel() {
        for text in ["", "# nothing", "- a", "just text"] {
            #expect(throws: ConfigFileError(file: "r.yaml", line: 1, column: 1, key: "-",
                                            problem: "expected a mapping of keys at the top level")) {
                try YAMLReader.parse(text, file: "r.yaml")
            }
        }
    }
}
