import Testing

/// The three readers built on `YAMLText` — policies, the traffic manager's configuration,
/// image manifests — refuse what would crash Yams with one clean `file:line:col` error.
@Suite("Readers: hostile documents")
struct HostileDocumentTests {
    @Test("5,000 levels deep: refused before parsing (by size, for nesting by indentation)",
          arguments: Reader.allCases, HostileYAML.allCases)
    func deep(reader: Reader, style: HostileYAML) throws {
        let text = style.document(depth: 5_000)
        let expected = style.isIndented ? "larger than 1 MiB" : "nested more than 64 levels deep"
        #expect((text.utf8.count > 1 << 20) == style.isIndented)
        try expectRefused(reader, text, expected)
    }

    @Test("1,000 levels deep: refused before parsing, where the nesting passes 64",
          arguments: Reader.allCases, HostileYAML.allCases)
    func nested(reader: Reader, style: HostileYAML) throws {
        try expectRefused(reader, style.document(depth: 1_000), "nested more than 64 levels deep")
    }

    func expectRefused(_ reader: Reader, _ text: String, _ problem: String) throws {
        guard case let .refused(errors) = reader.read(text) else {
            Issue.record("accepted")
            return
        }
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.contains(problem), "\(error)")
        #expect(error.hasPrefix(reader == .policy ? "p.yaml:" : reader == .trafficManagerConfig ? "tms.yaml:" : "manifest.yaml:"))
        #expect(!error.contains("\n"))
    }

    @Test("deep nesting planted in a valid document is found at its line", arguments: Reader.allCases)
    func plantedDeep(reader: Reader) throws {
        let text = reader.validDocument + "\nextra: " + HostileYAML.flowSequences.document(depth: 5_000)
        let line = reader.validDocument.split(separator: "\n", omittingEmptySubsequences: false).count + 1
        guard case let .refused(errors) = reader.read(text) else {
            Issue.record("accepted")
            return
        }
        #expect(errors.count == 1)
        #expect(errors.first?.contains(":\(line):") == true, "\(errors)")
    }

    @Test("a text over 1 MiB is refused unparsed", arguments: Reader.allCases)
    func huge(reader: Reader) {
        let text = reader.validDocument + "\n# " + String(repeating: "x", count: 1 << 20) + "\n"
        guard case let .refused(errors) = reader.read(text) else {
            Issue.record("accepted")
            return
        }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("larger than 1 MiB") == true, "\(errors)")
    }

    @Test("the valid documents are accepted", arguments: Reader.allCases)
    func valid(reader: Reader) {
        guard case .accepted = reader.read(reader.validDocument) else {
            Issue.record("refused: \(reader.read(reader.validDocument))")
            return
        }
    }
}
