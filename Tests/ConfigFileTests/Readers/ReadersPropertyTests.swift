import PropertyBased
import Testing

/// Whatever the text, every reader returns a value or errors that start `file:line:col:`:
/// it never traps. (A trap would end the test process.)
@Suite("Readers: generated documents")
struct ReadersPropertyTests {
    @Test func everyReaderReturnsOrRefuses() async {
        await propertyCheck(
            count: 1_000,
            input: Gen.int(in: 0...3), Gen.int(in: 0...400), GeneratedYAML.parts
        ) { base, offset, parts in
            let bases = [""] + Reader.allCases.map(\.validDocument)
            let text = GeneratedYAML.document(base: bases[base], offset: offset, parts: parts)
            for reader in Reader.allCases {
                if case let .refused(errors) = reader.read(text) {
                    #expect(!errors.isEmpty)
                    #expect(errors.allSatisfy(Self.isPositioned), "\(reader): \(errors)")
                }
            }
        }
    }

    /// `FILE:LINE:COLUMN: ...` with a file name and two numbers.
    static func isPositioned(_ error: String) -> Bool {
        let parts = error.split(separator: ":", maxSplits: 3, omittingEmptySubsequences: false)
        return parts.count == 4 && !parts[0].isEmpty && Int(parts[1]) != nil && Int(parts[2]) != nil
    }
}
